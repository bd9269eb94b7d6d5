import * as tf from '@tensorflow/tfjs-core';
import { type IRSDESchedule } from './irsdeSchedule.js';
import { meanDecay } from './marginal.js';
import { type MatchingLossType } from './matchingLoss.js';
import { type Timesteps, coefficient } from './timesteps.js';

/** The x₀ estimate a noise prediction implies: x̂₀ = μ + (x_t − μ − σ̄_t·ε̂)·e^{θ̄_t} (the marginal solved for x₀). */
export function x0FromNoise(s: IRSDESchedule, xt: tf.Tensor, mu: tf.Tensor, noisePred: tf.Tensor, t: Timesteps): tf.Tensor {
  return tf.tidy(() => {
    const sigma = coefficient(s, t, 'IR-SDE x0 estimate', (ti) => s.sigmaBars[ti]!);
    const grow = coefficient(s, t, 'IR-SDE x0 estimate', (ti) => 1 / meanDecay(s, ti));
    return tf.add(mu, tf.mul(tf.sub(tf.sub(xt, mu), tf.mul(noisePred, sigma)), grow));
  });
}

/**
 * A stablesr objective (not the reference's): the distance between the x₀ the predicted noise implies and the true
 * x₀, uniformly over timesteps — the "x₀-prediction" form of denoising score matching. With the `x0`
 * parameterisation x̂₀ − μ is the network's output itself, so this trains it as a conditional denoiser the way SR
 * regressions train (stable at any λ); the IR-SDE samplers then run on it unchanged. Mean of |·| (l1) or (·)² (l2).
 */
export function x0Loss(s: IRSDESchedule, xt: tf.Tensor, x0: tf.Tensor, mu: tf.Tensor, noisePred: tf.Tensor, t: Timesteps, lossType: MatchingLossType = 'l1'): tf.Scalar {
  if (lossType !== 'l1' && lossType !== 'l2') throw new Error(`IR-SDE x0 loss: loss type "${String(lossType)}" is not l1 or l2`);
  return tf.tidy(() => {
    const diff = tf.sub(x0FromNoise(s, xt, mu, noisePred, t), x0);
    return tf.mean(lossType === 'l1' ? tf.abs(diff) : tf.square(diff)) as tf.Scalar;
  });
}
