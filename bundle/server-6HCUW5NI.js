import{createRequire as __nixDeployRequire}from"node:module";const require=__nixDeployRequire(import.meta.url);
import{createServer,packageVersion}from"./chunk-QU7BVOVC.js";import"./chunk-FNMZN4CK.js";import"./chunk-XPU3C3WB.js";import"./chunk-XW3ZPYZB.js";export{createServer,packageVersion};
