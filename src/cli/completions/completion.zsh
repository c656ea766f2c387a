#compdef nix-deploy
# nix-deploy completion for zsh: put it on your $fpath as _nix-deploy
# The candidates come from `nix-deploy __complete WORDS...`, one per line.
_nix_deploy() {
  local -a candidates
  candidates=( ${(f)"$(nix-deploy __complete "${words[@]:1:CURRENT-1}" 2>/dev/null)"} )
  compadd -a candidates
}
compdef _nix_deploy nix-deploy
