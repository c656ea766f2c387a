# Grafana on localhost:3001 (3000 is often taken), for the metrics of Prometheus.
{
  services.grafana = {
    enable = true;
    settings.server = {
      http_addr = "127.0.0.1";
      http_port = 3001;
    };
  };
}
