import { type ParityKinds } from '@stablesr/core';
import { ddpmTrainKinds } from './ddpmTrainKind.js';
import { irsdeTrainKinds } from './irsdeTrainKind.js';

/** The training kinds: `train.ddpm-eps` (README 7.17) and `irsde.train-step` (README 7.18). */
export const trainParityKinds: ParityKinds = { ...ddpmTrainKinds, ...irsdeTrainKinds };
