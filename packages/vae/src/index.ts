import { type ParityKinds } from '@stablesr/core';
import { vaeParityKinds } from './parity/index.js';

export * from './config.js';
export * from './autoencoderKLConfigFromWeights.js';
export * from './featureOps.js';
export * from './resnetBlock.js';
export * from './attnBlock.js';
export * from './downsample.js';
export * from './upsample.js';
export * from './midBlock.js';
export * from './encoder.js';
export * from './decoder.js';
export * from './diagonalGaussian.js';
export * from './autoencoderKL.js';
export * from './diffusersKeys.js';
export * from './cfw/resBlock.js';
export * from './cfw/residualDenseBlock.js';
export * from './cfw/rrdb.js';
export * from './cfw/fuseSftBlockRRDB.js';
export * from './cfw/autoencoderKLResi.js';
export * from './vaeNetworks.js';
export * from './tiled/tileGrid.js';
export * from './tiled/hostFeature.js';
export * from './tiled/program.js';
export * from './tiled/tiledExecutor.js';
export * from './tiled/tiledBackend.js';
export * from './tiled/tfjsTileBackend.js';
export * from './tiled/onnxTileBackend.js';
export * from './tiled/regions.js';

/** Fixture kinds implemented by this package, for `stablesr parity`. */
export const parityKinds: ParityKinds = { ...vaeParityKinds };
