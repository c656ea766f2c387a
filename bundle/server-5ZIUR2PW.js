import{createRequire as __nixDeployRequire}from"node:module";const require=__nixDeployRequire(import.meta.url);
import{createServer,packageVersion}from"./chunk-4455YZMK.js";import"./chunk-M6BMBXKS.js";import"./chunk-ZJRGSUOX.js";import"./chunk-XW3ZPYZB.js";export{createServer,packageVersion};
