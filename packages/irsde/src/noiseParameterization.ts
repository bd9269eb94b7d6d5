import * as tf from '@tensorflow/tfjs-core';
import { type IRSDESchedule } from './irsdeSchedule.js';
import { meanDecay } from './marginal.js';
import { type Timesteps, coefficient } from './timesteps.js';

/**
 * What the network's output means. `eps`: the reference's — the output is the noise ε̂ of x_t = μ̄ + σ̄_t·ε
 * (`noise_fn(x_t, μ, t)`), every released checkpoint. The others are stablesr extensions (EDM-style
 * preconditioning), with y = x_t − μ, b_t = e^{−θ̄_t} and the network fed μ + c_in·y:
 * - `residual`: c_in = 1/σ̄_t, the output is the part of z = y/σ̄_t that is not noise, ε̂ = z − net;
 * - `x0`: c_in = 1/σ̄_t, the output is the detail d = x̂₀ − μ itself, ε̂ = z − d·b_t/σ̄_t;
 * - `edm`: Karras et al.'s c_in, c_skip, c_out for this SDE's marginal y = b_t·(x₀ − μ) + σ̄_t·ε with a detail of
 *   RMS σ_d ({@link EDM_SIGMA_DATA}): c_in = 1/√(b_t²σ_d² + σ̄_t²) keeps the input at unit variance at every t
 *   (under `x0`, z grows to ~|x₀ − μ|/σ̄_1 ≫ 1 at small t), d = c_skip·y + c_out·net with c_skip the linear
 *   least-squares estimate b_tσ_d²/(b_t²σ_d² + σ̄_t²) and c_out = σ_dσ̄_t/√(b_t²σ_d² + σ̄_t²) its error, so the
 *   network's target has unit scale too.
 * With any of the three an untrained network (output ≈ 0) gives x̂₀ ≈ μ at t = T: sampling starts from bicubic
 * instead of diverging, which is what makes a small model trainable on two cores (README, "The default model").
 */
export type NoiseParameterization = 'eps' | 'residual' | 'x0' | 'edm';
export const NOISE_PARAMETERIZATIONS: readonly NoiseParameterization[] = ['eps', 'residual', 'x0', 'edm'];

/**
 * σ_d of the `edm` parameterisation: the RMS of x₀ − μ (HR minus the bicubic of its MATLAB-bicubic ÷4 8-bit LR, in
 * [0, 1] units) over 256² crops of the default model's training photographs, 0.0387 (measured), rounded.
 */
export const EDM_SIGMA_DATA = 0.04;

/** The `edm` coefficients at timestep t (1 … T). */
export function edmCoefficients(s: IRSDESchedule, t: number): { cIn: number; cSkip: number; cOut: number } {
  const b = meanDecay(s, t);
  const sb = s.sigmaBars[t]!;
  const sd2 = EDM_SIGMA_DATA * EDM_SIGMA_DATA;
  const total = Math.sqrt(b * b * sd2 + sb * sb);
  return { cIn: 1 / total, cSkip: (b * sd2) / (total * total), cOut: (EDM_SIGMA_DATA * sb) / total };
}

/** ε̂ from the `edm` output r: d = c_skip·y + c_out·r and ε̂ = (y − b_t·d)/σ̄_t, i.e. y·(1 − b_t·c_skip)/σ̄_t − r·b_t·c_out/σ̄_t. */
function edmNoise(s: IRSDESchedule, y: tf.Tensor, r: tf.Tensor, t: Timesteps): tf.Tensor {
  const yWeight = coefficient(s, t, 'edm parameterisation', (ti) => (1 - meanDecay(s, ti) * edmCoefficients(s, ti).cSkip) / s.sigmaBars[ti]!);
  const rWeight = coefficient(s, t, 'edm parameterisation', (ti) => (meanDecay(s, ti) * edmCoefficients(s, ti).cOut) / s.sigmaBars[ti]!);
  return tf.sub(tf.mul(y, yWeight), tf.mul(r, rWeight));
}

/** The factor on the network's output in ε̂ = z − c·net(…): 1 for `residual`, e^{−θ̄_t}/σ̄_t for `x0`. */
function outputScale(p: NoiseParameterization, s: IRSDESchedule, t: Timesteps): number | tf.Tensor {
  return p === 'x0' ? coefficient(s, t, 'x0 parameterisation', (ti) => meanDecay(s, ti) / s.sigmaBars[ti]!) : 1;
}

/**
 * For the non-`eps` forms: the network input μ + c_in·(x_t − μ), and the tensor {@link noiseFromOutput} needs again
 * (y = x_t − μ for `edm`, z = y/σ̄_t for the others), so it is computed once per network call (both made in the
 * caller's tidy).
 */
function preconditionedInput(p: Exclude<NoiseParameterization, 'eps'>, s: IRSDESchedule, x: tf.Tensor, mu: tf.Tensor, t: Timesteps): { input: tf.Tensor; carried: tf.Tensor } {
  const y = tf.sub(x, mu);
  if (p === 'edm') return { input: tf.add(mu, tf.mul(y, coefficient(s, t, 'edm parameterisation', (ti) => edmCoefficients(s, ti).cIn))), carried: y };
  const z = tf.mul(y, coefficient(s, t, 'residual noise input', (ti) => 1 / s.sigmaBars[ti]!));
  return { input: tf.add(mu, z), carried: z };
}

/** ε̂ from the network's output r and the `carried` tensor of {@link preconditionedInput}. */
function noiseFromOutput(p: Exclude<NoiseParameterization, 'eps'>, s: IRSDESchedule, carried: tf.Tensor, r: tf.Tensor, t: Timesteps): tf.Tensor {
  return p === 'edm' ? edmNoise(s, carried, r, t) : tf.sub(carried, tf.mul(r, outputScale(p, s, t)));
}

/**
 * The noise prediction of a network under `p`, for samplers (async, e.g. ONNX Runtime): `run` is called on the
 * network's own input and its output is released.
 */
export async function parameterizedNoise(p: NoiseParameterization, s: IRSDESchedule, x: tf.Tensor4D, mu: tf.Tensor4D, t: number, run: (x: tf.Tensor4D, mu: tf.Tensor4D, t: number) => Promise<tf.Tensor4D>): Promise<tf.Tensor4D> {
  if (p === 'eps') return run(x, mu, t);
  const { input, carried } = tf.tidy(() => preconditionedInput(p, s, x, mu, t));
  try {
    const r = await run(input as tf.Tensor4D, mu, t);
    try {
      return tf.tidy(() => noiseFromOutput(p, s, carried, r, t) as tf.Tensor4D);
    } finally {
      r.dispose();
    }
  } finally {
    tf.dispose([input, carried]);
  }
}

/** The same for differentiable (synchronous tfjs) use inside a training loss; call it in a tidy. */
export function parameterizedNoiseSync(p: NoiseParameterization, s: IRSDESchedule, x: tf.Tensor, mu: tf.Tensor, t: readonly number[], run: (x: tf.Tensor, mu: tf.Tensor, t: readonly number[]) => tf.Tensor): tf.Tensor {
  if (p === 'eps') return run(x, mu, t);
  const { input, carried } = preconditionedInput(p, s, x, mu, t);
  return noiseFromOutput(p, s, carried, run(input, mu, t), t);
}
