import { type ParityKinds } from '@stablesr/core';
import { scheduleKinds } from './scheduleKinds.js';
import { srSamplerKinds } from './srSamplerKinds.js';
import { unetKinds } from './unetKind.js';

/** Every IR-SDE inference kind (README 7.18); `irsde.train-step` is training and not here. */
export const irsdeParityKinds: ParityKinds = { ...scheduleKinds, ...unetKinds, ...srSamplerKinds };
