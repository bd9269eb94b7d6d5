import * as tf from '@tensorflow/tfjs-core';
import { type IRSDESchedule } from './irsdeSchedule.js';
import { reverseOptimumStep } from './reverseOptimumStep.js';
import { reverseSdeStepMean } from './reverseSdeStep.js';
import { scoreFromNoise } from './score.js';
import { type Timesteps } from './timesteps.js';

/** `MatchingLoss` loss types of the official trainer. */
export type MatchingLossType = 'l1' | 'l2';

/**
 * The maximum-likelihood objective of IR-SDE (seed eq. 12, `denoising_model.py` `optimize_parameters`): the distance
 * between the reverse SDE's mean from the predicted noise, `reverse_sde_step_mean(x_t, score(noise))`, and the optimal
 * state `reverse_optimum_step(x_t, x₀)`; the mean over samples of per-sample means of |·| (l1) or (·)² (l2).
 * Forward value only (a scalar tensor).
 */
export function matchingLoss(s: IRSDESchedule, xt: tf.Tensor, x0: tf.Tensor, mu: tf.Tensor, noisePred: tf.Tensor, t: Timesteps, lossType: MatchingLossType = 'l1'): tf.Scalar {
  if (lossType !== 'l1' && lossType !== 'l2') throw new Error(`IR-SDE matching loss: loss_type "${String(lossType)}" is not l1 or l2`);
  return tf.tidy(() => {
    const mean = reverseSdeStepMean(s, xt, mu, scoreFromNoise(s, noisePred, t), t);
    const diff = tf.sub(mean, reverseOptimumStep(s, xt, x0, mu, t));
    const err = lossType === 'l1' ? tf.abs(diff) : tf.square(diff);
    // Every sample has the same size, so the mean of per-sample means is the plain mean.
    return tf.mean(err) as tf.Scalar;
  });
}
