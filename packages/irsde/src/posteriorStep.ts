import * as tf from '@tensorflow/tfjs-core';
import { type IRSDESchedule } from './irsdeSchedule.js';
import { optimumStd, reverseOptimumStep } from './reverseOptimumStep.js';
import { type Timesteps, coefficient } from './timesteps.js';

const f = Math.fround;

/**
 * `get_init_state_from_noise`: x₀ read off x_t and a noise prediction by inverting the marginal,
 * `(x_t − μ − sigma_bar(t)·noise)·e^{θ̄_t dt} + μ`.
 */
export function initStateFromNoise(s: IRSDESchedule, xt: tf.Tensor, mu: tf.Tensor, noise: tf.Tensor, t: Timesteps): tf.Tensor {
  return tf.tidy(() => {
    const sb = coefficient(s, t, 'IR-SDE init state', (ti) => s.sigmaBars[ti]!);
    const grow = coefficient(s, t, 'IR-SDE init state', (ti) => f(Math.exp(f(s.thetasCumsum[ti]! * s.dt))));
    return tf.add(tf.mul(tf.sub(tf.sub(xt, mu), tf.mul(sb, noise)), grow), mu);
  });
}

/**
 * `reverse_posterior_step`: a draw from the posterior q(x_{t−1} | x_t, x̂₀) with x̂₀ from the noise prediction:
 * `reverse_optimum_step(x_t, x̂₀) + reverse_optimum_std(t)·z` (`z` the step's standard-normal draw).
 */
export function reversePosteriorStep(s: IRSDESchedule, xt: tf.Tensor, mu: tf.Tensor, noise: tf.Tensor, t: Timesteps, z: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const x0 = initStateFromNoise(s, xt, mu, noise, t);
    const std = coefficient(s, t, 'IR-SDE posterior step', (ti) => optimumStd(s, ti));
    return tf.add(reverseOptimumStep(s, xt, x0, mu, t), tf.mul(std, z));
  });
}
