1 == 2 != false
