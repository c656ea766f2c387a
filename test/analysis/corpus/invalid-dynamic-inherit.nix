let a = 1; x = "a"; in { inherit "${x}"; }
