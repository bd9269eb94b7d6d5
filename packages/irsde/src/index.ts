import { type ParityKinds } from '@stablesr/core';
import { irsdeParityKinds } from './parity/index.js';

export * from './thetaSchedule.js';
export * from './irsdeSchedule.js';
export * from './timesteps.js';
export * from './marginal.js';
export * from './score.js';
export * from './reverseSdeStep.js';
export * from './reverseOdeStep.js';
export * from './reverseOptimumStep.js';
export * from './posteriorStep.js';
export * from './matchingLoss.js';
export * from './samplerTypes.js';
export * from './reverseTimesteps.js';
export * from './samplerLoop.js';
export * from './sdeSampler.js';
export * from './posteriorSampler.js';
export * from './sinusoidalPosEmb.js';
export * from './conditionalUNet.js';
export * from './conditionalUNetNetwork.js';
export * from './conditionalUNetConfigFromWeights.js';
export * from './dihedralEnsemble.js';
export * from './irsdeSuperResolve.js';
export * from './irsdeUpscaler.js';
export * from './irsdeUpscaleOptions.js';
export * from './irsdeModelMetadata.js';

/** Fixture kinds of this package (README 7.18) for `stablesr parity` and the tests. */
export const parityKinds: ParityKinds = { ...irsdeParityKinds };
export * from './noiseParameterization.js';
export * from './x0Loss.js';
