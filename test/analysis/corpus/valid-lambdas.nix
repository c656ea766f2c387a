[ (x: x) ({ a, b ? 2, ... }: a + b) ({ a, }: a) ({ ... }: 1) ({ }: 1) (args @ { a, ... }: args) ({ a } @ args: a) (x: y: { inherit x y; }) ]
