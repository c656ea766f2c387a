[ <nixpkgs> <nixpkgs/lib> <nixos-config> (import <nixpkgs/nixos> {}) ]
