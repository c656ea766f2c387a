let x = "a"; in ./foo${x}/
