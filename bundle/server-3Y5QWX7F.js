import{createRequire as __nixDeployRequire}from"node:module";const require=__nixDeployRequire(import.meta.url);
import{createServer,packageVersion}from"./chunk-UNNP4PNT.js";import"./chunk-22ILWWI4.js";import"./chunk-XPU3C3WB.js";import"./chunk-XW3ZPYZB.js";export{createServer,packageVersion};
