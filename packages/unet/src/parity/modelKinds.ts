import { type ParityKinds } from '@stablesr/core';

export const modelKinds: ParityKinds = {};
