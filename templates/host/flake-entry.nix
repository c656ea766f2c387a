@NAME@ = @NIXPKGS@.lib.nixosSystem {
  modules = [
@MODULES@
  ];
};
