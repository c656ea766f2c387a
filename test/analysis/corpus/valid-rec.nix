rec { a = 1; b = a + 1; inherit (self) c; self = { c = 3; }; }
