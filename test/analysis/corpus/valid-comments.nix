/* block */ let # line
  a = /* inline */ 1; /**/ b = 2; # end
in /* * nested-looking * */ a + b # trailing
