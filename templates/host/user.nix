
  # @USER@, whose home-manager configuration is home.nix beside this file.
  users.users.@USER@ = {
    isNormalUser = true;
    extraGroups = [ "wheel" ];
  };
