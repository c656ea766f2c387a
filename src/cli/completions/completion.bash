# nix-deploy completion for bash: source it, or put it in /etc/bash_completion.d/
# The candidates (commands, flags, their values, the fleet's hosts and @tags) come from
# `nix-deploy __complete WORDS...`, so this file never changes when nix-deploy does.
_nix_deploy() {
  local IFS=$'\n'
  # shellcheck disable=SC2207 # one candidate per line, split on newlines (IFS above)
  COMPREPLY=( $(nix-deploy __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null) )
}
complete -o default -F _nix_deploy nix-deploy
