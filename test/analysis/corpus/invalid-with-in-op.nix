with { }; 1 + with { }; 1
