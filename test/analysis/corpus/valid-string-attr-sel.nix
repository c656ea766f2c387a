let s = { "a b" = 1; c = { "d" = 2; }; }; in s."a b" + s.c."d" + s.${"c"}.d
