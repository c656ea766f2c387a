# Fail2ban: an address that fails ssh logins 3 times is banned for an hour.
{
  services.fail2ban = {
    enable = true;
    maxretry = 3;
    bantime = "1h";
  };
}
