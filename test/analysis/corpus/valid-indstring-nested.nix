let x = "a"; y = { z = "b"; }; in ''
  outer ${x} and ${''inner ${y.z} ''} done
  ${if true then ''deep ${"${x}"}'' else ""}
''
