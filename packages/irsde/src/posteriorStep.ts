import * as tf from '@tensorflow/tfjs-core';
import { type IRSDESchedule } from './irsdeSchedule.js';
import { checkTimestep } from './irsdeSchedule.js';
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

/**
 * The posterior draw from timestep `t` to an earlier `next` (0 ≤ next < t) given x̂₀ from the noise prediction: the
 * same Gaussian q(x_next | x_t, x̂₀) as {@link reversePosteriorStep} with the transition over the whole interval,
 * A = e^{−(θ̄_t − θ̄_next)dt}, B = e^{−θ̄_t dt}, C = e^{−θ̄_next dt} (the OU process's x_t | x_next is N(μ + A(x_next − μ),
 * λ²(1 − A²))): mean μ + A(1−C²)/(1−B²)·(x_t − μ) + C(1−A²)/(1−B²)·(x̂₀ − μ), std λ√((1−A²)(1−C²)/(1−B²)). It is how a
 * sampler skips timesteps (stablesr's respacing; the reference visits every one); `next` = t − 1 is the reference's
 * step exactly, and `next` = 0 returns x̂₀ itself.
 */
export function reversePosteriorJump(s: IRSDESchedule, xt: tf.Tensor, mu: tf.Tensor, noise: tf.Tensor, t: number, next: number, z: tf.Tensor): tf.Tensor {
  checkTimestep(s, t, 'IR-SDE posterior jump');
  if (!Number.isInteger(next) || next < 0 || next >= t) throw new Error(`IR-SDE posterior jump: the next timestep ${next} must be an integer in 0 … ${t - 1}`);
  if (next === t - 1) return reversePosteriorStep(s, xt, mu, noise, t, z);
  return tf.tidy(() => {
    const x0 = initStateFromNoise(s, xt, mu, noise, t);
    const decay = (v: number): number => Math.exp(-v * s.dt);
    const A = decay(s.thetasCumsum[t]! - s.thetasCumsum[next]!);
    const B = decay(s.thetasCumsum[t]!);
    const C = decay(s.thetasCumsum[next]!);
    const den = 1 - B * B;
    const w1 = (A * (1 - C * C)) / den;
    const w2 = (C * (1 - A * A)) / den;
    const std = s.maxSigma * Math.sqrt(Math.max(0, ((1 - A * A) * (1 - C * C)) / den));
    const mean = tf.add(tf.add(tf.mul(tf.sub(xt, mu), w1), tf.mul(tf.sub(x0, mu), w2)), mu);
    return std > 0 ? tf.add(mean, tf.mul(z, std)) : mean;
  });
}
