import{createRequire as __nixDeployRequire}from"node:module";const require=__nixDeployRequire(import.meta.url);
import{createServer,packageVersion}from"./chunk-FLH5DARN.js";import"./chunk-DEDGHCEV.js";import"./chunk-XPU3C3WB.js";import"./chunk-XW3ZPYZB.js";export{createServer,packageVersion};
