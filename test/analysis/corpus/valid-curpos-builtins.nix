[ __curPos __add __findFile __nixPath builtins.currentSystem derivation import map toString fetchTree ]
