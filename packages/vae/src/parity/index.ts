import { type ParityKinds } from '@stablesr/core';
import { cfwDecodeKind } from './cfwDecode.js';
import { vaeDecodeKind } from './vaeDecode.js';
import { vaeEncodeKind } from './vaeEncode.js';
import { vaePosteriorKind } from './vaePosterior.js';

/** Fixture kinds implemented by the vae package. */
export const vaeParityKinds: ParityKinds = {
  'vae.encode': vaeEncodeKind,
  'vae.decode': vaeDecodeKind,
  'vae.posterior': vaePosteriorKind,
  'cfw.decode': cfwDecodeKind,
};
