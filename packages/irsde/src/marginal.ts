import * as tf from '@tensorflow/tfjs-core';
import { type NoiseSource } from '@stablesr/core';
import { type IRSDESchedule, checkTimestep } from './irsdeSchedule.js';
import { type Timesteps, coefficient } from './timesteps.js';

// The closed-form marginal of the mean-reverting SDE (Luo et al. 2023, eq. 5): x_t ~ N(mu_bar(x0, t), sigma_bar(t)²).

const f = Math.fround;

/** e^{−θ̄_t·dt}, the weight x₀ keeps in the mean at t (`IRSDE.weights`). */
export function meanDecay(s: IRSDESchedule, t: number): number {
  return f(Math.exp(f(-s.thetasCumsum[t]! * s.dt)));
}

/** `mu_bar(x0, t) = μ + (x₀ − μ)·e^{−θ̄_t·dt}`. */
export function muBar(s: IRSDESchedule, x0: tf.Tensor, mu: tf.Tensor, t: Timesteps): tf.Tensor {
  return tf.tidy(() => tf.add(mu, tf.mul(tf.sub(x0, mu), coefficient(s, t, 'IR-SDE mu_bar', (ti) => meanDecay(s, ti)))));
}

/** `sigma_bar(t) = √(λ²(1 − e^{−2θ̄_t·dt}))`, one value per timestep. */
export function sigmaBar(s: IRSDESchedule, t: Timesteps): number[] {
  return (typeof t === 'number' ? [t] : [...t]).map((ti) => {
    checkTimestep(s, ti, 'IR-SDE sigma_bar');
    return s.sigmaBars[ti]!;
  });
}

/** `get_real_noise`: the standard-normal draw that puts x_t where it is, `(x_t − mu_bar(x₀, t))/sigma_bar(t)`. */
export function realNoise(s: IRSDESchedule, xt: tf.Tensor, x0: tf.Tensor, mu: tf.Tensor, t: Timesteps): tf.Tensor {
  return tf.tidy(() => tf.div(tf.sub(xt, muBar(s, x0, mu, t)), coefficient(s, t, 'IR-SDE real noise', (ti) => s.sigmaBars[ti]!)));
}

/** `noise_state`: the sampler's start `x_T = μ + λ·N` (one draw, `use: 'x_T'`), the stationary law at T. */
export function noiseState(s: IRSDESchedule, mu: tf.Tensor, noise: NoiseSource): tf.Tensor {
  const n = noise.draw(mu.shape, 'x_T');
  try {
    return tf.tidy(() => tf.add(mu, tf.mul(n, s.maxSigma)));
  } finally {
    n.dispose();
  }
}
