let x = { }; in x.y or
