export * from './betaSchedule.js';
export * from './registerSchedule.js';
export * from './spaceTimesteps.js';
export * from './respaceSchedule.js';
export * from './ddimSchedule.js';
export * from './diffusionHelpers.js';
export * from './stepSchedule.js';
