let x = 1; in ''
  dollar: ''${x} literal, quotes: ''' here, escapes: ''\n ''\t ''\\
  bare $ and $$ and $${x} and ' single and '$ edge
  interp: ${toString x}
''
