# nix-deploy completion for fish: put it in ~/.config/fish/completions/nix-deploy.fish
# The candidates come from `nix-deploy __complete WORDS...`, one per line.
complete -c nix-deploy -f -a '(nix-deploy __complete (commandline -opc)[2..-1] (commandline -ct) 2>/dev/null)'
