export * from './guidance.js';
export * from './generateLatents.js';
