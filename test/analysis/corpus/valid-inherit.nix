let a = 1; e = 5; b = { c = 2; d = 3; }; in { inherit a; inherit (b) c d; inherit "e"; inherit (b) ${"c2"}; }
