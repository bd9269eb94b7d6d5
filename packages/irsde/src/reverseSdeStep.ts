import * as tf from '@tensorflow/tfjs-core';
import { type IRSDESchedule } from './irsdeSchedule.js';
import { type Timesteps, coefficient } from './timesteps.js';

const f = Math.fround;

/**
 * `reverse_sde_step_mean`: one Euler–Maruyama step of the reverse-time SDE without its noise,
 * `x − (θ_t(μ − x) − σ_t²·score)·dt` (seed eq. 7; the step runs backwards in time, hence the minus).
 */
export function reverseSdeStepMean(s: IRSDESchedule, x: tf.Tensor, mu: tf.Tensor, score: tf.Tensor, t: Timesteps): tf.Tensor {
  return tf.tidy(() => {
    const theta = coefficient(s, t, 'IR-SDE reverse SDE step', (ti) => s.thetas[ti]!);
    const sigma2 = coefficient(s, t, 'IR-SDE reverse SDE step', (ti) => f(s.sigmas[ti]! * s.sigmas[ti]!));
    const drift = tf.mul(tf.sub(tf.mul(theta, tf.sub(mu, x)), tf.mul(sigma2, score)), s.dt);
    return tf.sub(x, drift);
  });
}

/**
 * `reverse_sde_step`: {@link reverseSdeStepMean} minus the dispersion `σ_t·(z·√dt)`, `z` the step's standard-normal
 * draw (the caller's, so the reference's recorded draws can be replayed).
 */
export function reverseSdeStep(s: IRSDESchedule, x: tf.Tensor, mu: tf.Tensor, score: tf.Tensor, t: Timesteps, z: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const sigma = coefficient(s, t, 'IR-SDE reverse SDE step', (ti) => s.sigmas[ti]!);
    return tf.sub(reverseSdeStepMean(s, x, mu, score, t), tf.mul(sigma, tf.mul(z, f(Math.sqrt(s.dt)))));
  });
}
