import { type ParityKinds } from '@stablesr/core';

export const samplerKinds: ParityKinds = {};
