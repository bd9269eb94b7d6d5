import * as tf from '@tensorflow/tfjs-core';
import { type IRSDESchedule } from './irsdeSchedule.js';
import { type Timesteps, coefficient } from './timesteps.js';

const f = Math.fround;

/**
 * `reverse_ode_step`: one Euler step of the probability-flow ODE, `x − (θ_t(μ − x) − ½σ_t²·score)·dt`
 * (deterministic: the same marginals as the reverse SDE without its noise).
 */
export function reverseOdeStep(s: IRSDESchedule, x: tf.Tensor, mu: tf.Tensor, score: tf.Tensor, t: Timesteps): tf.Tensor {
  return tf.tidy(() => {
    const theta = coefficient(s, t, 'IR-SDE reverse ODE step', (ti) => s.thetas[ti]!);
    const halfSigma2 = coefficient(s, t, 'IR-SDE reverse ODE step', (ti) => f(0.5 * f(s.sigmas[ti]! * s.sigmas[ti]!)));
    const drift = tf.mul(tf.sub(tf.mul(theta, tf.sub(mu, x)), tf.mul(halfSigma2, score)), s.dt);
    return tf.sub(x, drift);
  });
}
