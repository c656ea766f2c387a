< nixpkgs>
