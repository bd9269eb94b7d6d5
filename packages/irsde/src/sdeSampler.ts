import type * as tf from '@tensorflow/tfjs-core';
import { type IRSDESchedule } from './irsdeSchedule.js';
import { reverseSdeStep } from './reverseSdeStep.js';
import { type IRSDEUpdate, irsdeModelStep, runReverse } from './samplerLoop.js';
import { type IRSDEDenoiseFn, type IRSDESamplerOptions } from './samplerTypes.js';
import { scoreFromNoise } from './score.js';

/** `reverse_sde`'s update: score = −noise/sigma_bar(t), then one Euler–Maruyama step. */
const sdeUpdate: IRSDEUpdate = (s, x, mu, noisePred, t, z) => reverseSdeStep(s, x, mu, scoreFromNoise(s, noisePred, t), t, z);

/**
 * `IRSDE.reverse_sde`: T Euler–Maruyama steps of the reverse-time SDE from `xT` (t = T … 1), one `step` draw each.
 * Reentrant: everything it needs is in the arguments.
 */
export function sampleReverseSde(denoise: IRSDEDenoiseFn, xT: tf.Tensor4D, schedule: IRSDESchedule, opts: IRSDESamplerOptions): Promise<tf.Tensor4D> {
  if (opts?.steps !== undefined && opts.steps !== schedule.T) {
    return Promise.reject(new Error(`option steps ${opts.steps}: the reverse SDE sampler runs every timestep (T = ${schedule.T}); fewer steps need the posterior sampler`));
  }
  return runReverse(denoise, xT, schedule, opts, sdeUpdate, 'IR-SDE reverse SDE sampler');
}

/** One step of {@link sampleReverseSde} at timestep `t` (teacher-forced checks, custom loops). The caller owns both tensors. */
export function reverseSdeSamplerStep(denoise: IRSDEDenoiseFn, x: tf.Tensor4D, schedule: IRSDESchedule, t: number, opts: Pick<IRSDESamplerOptions, 'mu' | 'noise'>) {
  return irsdeModelStep(denoise, x, schedule, t, opts, sdeUpdate, 'IR-SDE reverse SDE sampler');
}
