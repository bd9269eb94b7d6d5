import type * as tf from '@tensorflow/tfjs-core';
import { type IRSDESchedule } from './irsdeSchedule.js';
import { reversePosteriorJump } from './posteriorStep.js';
import { type IRSDEUpdate, irsdeModelStep, runReverse } from './samplerLoop.js';
import { type IRSDEDenoiseFn, type IRSDESamplerOptions } from './samplerTypes.js';

const posteriorUpdate: IRSDEUpdate = (s, x, mu, noisePred, t, z, next) => reversePosteriorJump(s, x, mu, noisePred, t, next, z);

/**
 * `IRSDE.reverse_posterior`: T posterior draws x_{t−1} ~ q(x_{t−1} | x_t, x̂₀) from `xT` (t = T … 1), one `step`
 * draw each (the authors' newer sampler). With `opts.steps` < T it visits evenly spaced timesteps and draws from the
 * posterior over each skipped interval (stablesr's respacing; one step returns the network's x̂₀ at T). Reentrant:
 * everything it needs is in the arguments.
 */
export function samplePosterior(denoise: IRSDEDenoiseFn, xT: tf.Tensor4D, schedule: IRSDESchedule, opts: IRSDESamplerOptions): Promise<tf.Tensor4D> {
  return runReverse(denoise, xT, schedule, opts, posteriorUpdate, 'IR-SDE posterior sampler');
}

/** One step of {@link samplePosterior} at timestep `t`. The caller owns both tensors. */
export function posteriorSamplerStep(denoise: IRSDEDenoiseFn, x: tf.Tensor4D, schedule: IRSDESchedule, t: number, opts: Pick<IRSDESamplerOptions, 'mu' | 'noise'>) {
  return irsdeModelStep(denoise, x, schedule, t, opts, posteriorUpdate, 'IR-SDE posterior sampler');
}
