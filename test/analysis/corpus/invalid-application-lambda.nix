map x: x [ ]
