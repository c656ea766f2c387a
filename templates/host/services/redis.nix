# Redis for caches and queues, on localhost only, at most 512 MB (least recently used keys go first).
{
  services.redis.servers.main = {
    enable = true;
    bind = "127.0.0.1";
    settings = {
      maxmemory = "512mb";
      maxmemory-policy = "allkeys-lru";
    };
  };
}
