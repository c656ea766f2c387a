import{createRequire as __nixDeployRequire}from"node:module";const require=__nixDeployRequire(import.meta.url);
import{createServer,packageVersion}from"./chunk-2FLB2HBI.js";import"./chunk-6D2FNOLT.js";import"./chunk-XPU3C3WB.js";import"./chunk-XW3ZPYZB.js";export{createServer,packageVersion};
