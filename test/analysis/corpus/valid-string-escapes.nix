{ a = "tab\t quote\" dollar\${x} $${y} $ end$"; b = "multi
line"; c = "\\"; d = "$\\{"; }
