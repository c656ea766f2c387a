let name = "x"; in [ ./foo ./foo/bar.nix ../up /abs/path ./${name} ./dir/${name}.nix ./a${name}/b ~/home/file ./a-b_c+d.e a/b 1/2 ./x/${name}/y/${name} ]
