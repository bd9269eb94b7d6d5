import { type ParityKinds } from '@stablesr/core';
import { modelKinds } from './parity/modelKinds.js';
import { samplerKinds } from './parity/samplerKinds.js';

export * from './adain.js';
export * from './waveletColorFix.js';
export * from './colorFix.js';
export * from './spade.js';
export * from './unetModelDualcondV2.js';
export * from './timeAwareEncoder.js';
export * from './timeAwareEncoderConfigFromWeights.js';

/** Fixture kinds implemented by this package, for `stablesr parity`. */
export const parityKinds: ParityKinds = { ...modelKinds, ...samplerKinds };
export * from './srModels.js';
export * from './stableSRConfig.js';
export * from './stableSRConfigFromWeights.js';
export * from './preprocess.js';
export * from './guidedDenoiser.js';
export * from './srPipeline.js';
export * from './vaeModels.js';
export * from './srNetworks.js';
export * from './promptEncoder.js';
export * from './stableSR.js';
export * from './loadStableSR.js';
export * from './upscaleOptions.js';
export * from './upscaleResult.js';
export * from './upscaleInput.js';
export * from './outputImage.js';
export * from './upscaleProgress.js';
export * from './srRecipe.js';
export * from './srPlan.js';
export * from './checkpointShapes.js';
export * from './upscaleRun.js';
export * from './upscale.js';
export * from './patchNoise.js';
export * from './patchAssembly.js';
export * from './patchBlender.js';
export * from './upscalePlan.js';
