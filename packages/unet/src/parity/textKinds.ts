import { type ParityKinds } from '@stablesr/core';

export const textKinds: ParityKinds = {};
