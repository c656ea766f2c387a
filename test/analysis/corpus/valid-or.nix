let or = x: x; a = { b = 1; or = 2; }; f = x: y: x; in [ (a.b or 3) (a.c or a.b) a.or (f or 1) { or = 1; }.or ({ inherit or; }.or 5) (a.x.y or a.b or 7) ]
