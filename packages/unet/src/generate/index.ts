export * from './guidance.js';
export * from './generateLatents.js';
export * from './readConfigFile.js';
export * from './textToLatentConfig.js';
export * from './textToLatent.js';
