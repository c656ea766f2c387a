# PostgreSQL, local connections only, passwords stored as SCRAM-SHA-256.
{
  services.postgresql = {
    enable = true;
    settings.password_encryption = "scram-sha-256";
  };
}
