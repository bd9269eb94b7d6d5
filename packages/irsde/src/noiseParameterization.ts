import * as tf from '@tensorflow/tfjs-core';
import { type IRSDESchedule } from './irsdeSchedule.js';
import { type Timesteps, coefficient } from './timesteps.js';

/**
 * What the network's output means. `eps`: the reference's — the output is the noise ε̂ of x_t = μ̄ + σ̄_t·ε
 * (`noise_fn(x_t, μ, t)`), every released checkpoint. `residual`: a stablesr extension (EDM-style preconditioning):
 * the network sees z = (x_t − μ)/σ̄_t (as x_t' = μ + z) and predicts the part of z that is not noise, so that
 * ε̂ = z − net(μ + z, μ, t). Both input and target are O(1) for any λ, and an untrained network (output ≈ 0) gives
 * ε̂ = z, whose optimal-state estimate x̂₀ is μ itself: sampling starts from bicubic instead of diverging, which is
 * what makes a small model trainable in an afternoon on two cores (README, "The default model").
 */
export type NoiseParameterization = 'eps' | 'residual';
export const NOISE_PARAMETERIZATIONS: readonly NoiseParameterization[] = ['eps', 'residual'];

/** For `residual`: z = (x_t − μ)/σ̄_t and the network input μ + z (both owned by the caller). */
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
      return tf.sub(z, r) as tf.Tensor4D;
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
  return tf.sub(z, run(input, mu, t));
}
