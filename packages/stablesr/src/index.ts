import { type ParityKinds } from '@stablesr/core';
import { modelKinds } from './parity/modelKinds.js';
import { samplerKinds } from './parity/samplerKinds.js';

export * from './adain.js';
export * from './waveletColorFix.js';
export * from './colorFix.js';
export * from './spade.js';
export * from './unetModelDualcondV2.js';
export * from './timeAwareEncoder.js';

/** Fixture kinds implemented by this package, for `stablesr parity`. */
export const parityKinds: ParityKinds = { ...modelKinds, ...samplerKinds };
