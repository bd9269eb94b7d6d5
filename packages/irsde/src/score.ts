import * as tf from '@tensorflow/tfjs-core';
import { type IRSDESchedule } from './irsdeSchedule.js';
import { type Timesteps, coefficient } from './timesteps.js';

/** `get_score_from_noise`: ∇ log p_t(x) = −noise/sigma_bar(t) for the network's noise prediction (seed eq. 8). */
export function scoreFromNoise(s: IRSDESchedule, noise: tf.Tensor, t: Timesteps): tf.Tensor {
  return tf.tidy(() => tf.div(tf.neg(noise), coefficient(s, t, 'IR-SDE score', (ti) => s.sigmaBars[ti]!)));
}
