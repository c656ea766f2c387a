# Prometheus scraping this host's node exporter, both on localhost only.
{
  services.prometheus = {
    enable = true;
    listenAddress = "127.0.0.1";
    exporters.node = {
      enable = true;
      listenAddress = "127.0.0.1";
    };
    scrapeConfigs = [
      {
        job_name = "node";
        static_configs = [ { targets = [ "127.0.0.1:9100" ]; } ];
      }
    ];
  };
}
