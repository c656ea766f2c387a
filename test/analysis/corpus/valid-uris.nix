[ http://example.org/x?y=1&z=2 https://github.com/NixOS/nixpkgs/archive/master.tar.gz mirror://gnu/hello-2.1.tar.gz git+ssh://git@host/repo.git x:x ]
