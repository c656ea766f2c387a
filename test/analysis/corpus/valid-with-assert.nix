with { x = 1; }; assert x == 1; with builtins; [ (length [ y z ]) undefinedButWith ]
