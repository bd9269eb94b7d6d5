export * from './types.js';
export * from './prediction.js';
export * from './stepLoop.js';
export * from './ddpm.js';
export * from './ddim.js';
export * from './dpmSolverPP2M.js';
export * from './eulerAncestral.js';
export * from './registry.js';
