import { type ParityKinds } from '@stablesr/core';
import { samplerKinds } from './parity/samplerKinds.js';

export * from './adain.js';
export * from './waveletColorFix.js';
export * from './colorFix.js';

/** Fixture kinds implemented by this package, for `stablesr parity`. */
export const parityKinds: ParityKinds = { ...samplerKinds };
