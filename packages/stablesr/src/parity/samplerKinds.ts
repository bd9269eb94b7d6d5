import { type ParityKinds } from '@stablesr/core';
import { colorFixKind } from './colorFixKind.js';
import { loadFixtureSRModels } from './srFixtureModels.js';
import { makeSrSamplerKinds } from './srSamplerKinds.js';

/** Kinds of the SR pipeline: colour fix and the four StableSR samplers (README 7.11–7.15). */
export const samplerKinds: ParityKinds = {
  colorfix: colorFixKind,
  ...makeSrSamplerKinds(loadFixtureSRModels),
};
