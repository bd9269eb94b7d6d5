import { type ParityKinds } from '@stablesr/core';
import { trainParityKinds } from './parity/index.js';

export * from './trainingBackend.js';
export * from './wasmGradientKernels.js';
export * from './tensorWeightView.js';
export * from './lossGradients.js';
export * from './ddpmObjective.js';
export * from './irsdeObjective.js';
export * from './irsdeBatchGradients.js';
export * from './dataParallelGradients.js';
export * from './adam.js';
export * from './ema.js';

/** Fixture kinds of this package (README 7.17, 7.18) for `stablesr parity` and the tests. */
export const parityKinds: ParityKinds = { ...trainParityKinds };
export * from './imageFolder.js';
export * from './trainingSplit.js';
export * from './patchBatch.js';
export * from './lrSchedule.js';
export * from './parameterInit.js';
export * from './checkedSafetensors.js';
export * from './trainingCheckpoint.js';
export * from './trainingCurve.js';
export * from './irsdeTrainer.js';
