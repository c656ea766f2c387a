# Nginx as a reverse proxy with the recommended TLS, gzip and proxy settings. Its ports are not
# opened: add 80 and 443 to networking.firewall.allowedTCPPorts when it should be reachable.
{
  services.nginx = {
    enable = true;
    recommendedTlsSettings = true;
    recommendedGzipSettings = true;
    recommendedProxySettings = true;
    recommendedOptimisation = true;
  };
}
