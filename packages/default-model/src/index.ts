export * from './defaultModel.js';
