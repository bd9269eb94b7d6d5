import { type ParityKinds } from '@stablesr/core';

/** Fixture kinds implemented by this package, for `stablesr parity`. */
export const parityKinds: ParityKinds = {};
