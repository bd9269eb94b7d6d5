import { type ParityKinds } from '@stablesr/core';
import { modelKinds } from './parity/modelKinds.js';
import { samplerKinds } from './parity/samplerKinds.js';
import { textKinds } from './parity/textKinds.js';

export * from './model/index.js';
export * from './text/index.js';
export * from './schedule/index.js';
export * from './samplers/index.js';
export * from './generate/index.js';

/** Fixture kinds implemented by this package, for `stablesr parity`. */
export const parityKinds: ParityKinds = { ...modelKinds, ...textKinds, ...samplerKinds };
