import * as tf from '@tensorflow/tfjs-core';
import { type IRSDESchedule } from './irsdeSchedule.js';
import { meanDecay } from './marginal.js';
import { type Timesteps, coefficient } from './timesteps.js';

/**
 * What the network's output means. `eps`: the reference's — the output is the noise ε̂ of x_t = μ̄ + σ̄_t·ε
 * (`noise_fn(x_t, μ, t)`), every released checkpoint. The other two are stablesr extensions (EDM-style
 * preconditioning): the network sees z = (x_t − μ)/σ̄_t (as x_t' = μ + z), O(1) for any λ, and
 * - `residual`: predicts the part of z that is not noise, ε̂ = z − net(μ + z, μ, t);
 * - `x0`: predicts the detail d = x̂₀ − μ itself, ε̂ = z − d·e^{−θ̄_t}/σ̄_t, so that the posterior sampler's estimate
 *   x̂₀ = μ + d is the network's output with no per-timestep gain in between.
 * With either, an untrained network (output ≈ 0) gives x̂₀ = μ: sampling starts from bicubic instead of diverging,
 * which is what makes a small model trainable in an afternoon on two cores (README, "The default model").
 */
export type NoiseParameterization = 'eps' | 'residual' | 'x0';
export const NOISE_PARAMETERIZATIONS: readonly NoiseParameterization[] = ['eps', 'residual', 'x0'];

/** The factor on the network's output in ε̂ = z − c·net(…): 1 for `residual`, e^{−θ̄_t}/σ̄_t for `x0`. */
function outputScale(p: NoiseParameterization, s: IRSDESchedule, t: Timesteps): number | tf.Tensor {
  return p === 'x0' ? coefficient(s, t, 'x0 parameterisation', (ti) => meanDecay(s, ti) / s.sigmaBars[ti]!) : 1;
}

/** For `residual` and `x0`: z = (x_t − μ)/σ̄_t and the network input μ + z (both owned by the caller). */
export function residualNoiseInput(s: IRSDESchedule, x: tf.Tensor, mu: tf.Tensor, t: Timesteps): { z: tf.Tensor; input: tf.Tensor } {
  return tf.tidy(() => {
    const inv = coefficient(s, t, 'residual noise input', (ti) => 1 / s.sigmaBars[ti]!);
    const z = tf.mul(tf.sub(x, mu), inv);
    return { z, input: tf.add(mu, z) };
  });
}

/**
 * The noise prediction of a network under `p`, for samplers (async, e.g. ONNX Runtime): `run` is called on the
 * network's own input and its output is released.
 */
export async function parameterizedNoise(p: NoiseParameterization, s: IRSDESchedule, x: tf.Tensor4D, mu: tf.Tensor4D, t: number, run: (x: tf.Tensor4D, mu: tf.Tensor4D, t: number) => Promise<tf.Tensor4D>): Promise<tf.Tensor4D> {
  if (p === 'eps') return run(x, mu, t);
  const { z, input } = residualNoiseInput(s, x, mu, t);
  try {
    const r = await run(input as tf.Tensor4D, mu, t);
    try {
      return tf.tidy(() => tf.sub(z, tf.mul(r, outputScale(p, s, t))) as tf.Tensor4D);
    } finally {
      r.dispose();
    }
  } finally {
    tf.dispose([z, input]);
  }
}

/** The same for differentiable (synchronous tfjs) use inside a training loss; call it in a tidy. */
export function parameterizedNoiseSync(p: NoiseParameterization, s: IRSDESchedule, x: tf.Tensor, mu: tf.Tensor, t: readonly number[], run: (x: tf.Tensor, mu: tf.Tensor, t: readonly number[]) => tf.Tensor): tf.Tensor {
  if (p === 'eps') return run(x, mu, t);
  const { z, input } = residualNoiseInput(s, x, mu, t);
  return tf.sub(z, tf.mul(run(input, mu, t), outputScale(p, s, t)));
}
