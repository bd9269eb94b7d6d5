import * as tf from '@tensorflow/tfjs-core';
import { type DiffusionSchedule } from './registerSchedule.js';

/**
 * Closed-form relations of the Gaussian forward process (Ho et al. 2020; v from Salimans & Ho 2022),
 * as `DDPM.q_sample`, `predict_start_from_noise`, `get_v`, `predict_start_from_z_and_v`, `q_posterior`.
 * `t` holds one timestep per batch row (the first dimension); coefficients are float32 like the
 * reference's buffers, and every other dimension is broadcast, so any layout (NCHW, NHWC) works.
 */

/** Per-row coefficient `arr[t_b]` shaped [B, 1, …, 1] for broadcasting against a tensor of `rank`. */
export function extractIntoTensor(arr: ArrayLike<number>, t: readonly number[], rank: number): tf.Tensor {
  const vals = new Float32Array(t.length);
  t.forEach((ti, b) => {
    if (!Number.isInteger(ti) || ti < 0 || ti >= arr.length) throw new Error(`timestep ${ti} (row ${b}) is outside the schedule [0, ${arr.length})`);
    vals[b] = arr[ti]!;
  });
  return tf.tensor(vals, [t.length, ...new Array<number>(Math.max(rank - 1, 0)).fill(1)]);
}

function checkBatch(x: tf.Tensor, t: readonly number[], what: string): void {
  if (x.shape[0] !== t.length) throw new Error(`${what}: ${t.length} timesteps for a batch of ${x.shape[0]}`);
}

/** x_t = √ᾱ_t·x_0 + √(1−ᾱ_t)·ε (Ho et al. 2020, eq. 4). */
export function qSample(s: DiffusionSchedule, x0: tf.Tensor, noise: tf.Tensor, t: readonly number[]): tf.Tensor {
  checkBatch(x0, t, 'qSample');
  return tf.tidy(() =>
    tf.add(tf.mul(extractIntoTensor(s.sqrtAlphasCumprod, t, x0.rank), x0), tf.mul(extractIntoTensor(s.sqrtOneMinusAlphasCumprod, t, x0.rank), noise)),
  );
}

/** x_0 = √(1/ᾱ_t)·x_t − √(1/ᾱ_t − 1)·ε (eq. 4 solved for x_0). */
export function predictStartFromNoise(s: DiffusionSchedule, xT: tf.Tensor, noise: tf.Tensor, t: readonly number[]): tf.Tensor {
  checkBatch(xT, t, 'predictStartFromNoise');
  return tf.tidy(() =>
    tf.sub(tf.mul(extractIntoTensor(s.sqrtRecipAlphasCumprod, t, xT.rank), xT), tf.mul(extractIntoTensor(s.sqrtRecipm1AlphasCumprod, t, xT.rank), noise)),
  );
}

/** v = √ᾱ_t·ε − √(1−ᾱ_t)·x_0 (Salimans & Ho 2022, sec. 4). */
export function getV(s: DiffusionSchedule, x0: tf.Tensor, noise: tf.Tensor, t: readonly number[]): tf.Tensor {
  checkBatch(x0, t, 'getV');
  return tf.tidy(() =>
    tf.sub(tf.mul(extractIntoTensor(s.sqrtAlphasCumprod, t, x0.rank), noise), tf.mul(extractIntoTensor(s.sqrtOneMinusAlphasCumprod, t, x0.rank), x0)),
  );
}

/** x_0 = √ᾱ_t·x_t − √(1−ᾱ_t)·v. */
export function predictStartFromZAndV(s: DiffusionSchedule, xT: tf.Tensor, v: tf.Tensor, t: readonly number[]): tf.Tensor {
  checkBatch(xT, t, 'predictStartFromZAndV');
  return tf.tidy(() =>
    tf.sub(tf.mul(extractIntoTensor(s.sqrtAlphasCumprod, t, xT.rank), xT), tf.mul(extractIntoTensor(s.sqrtOneMinusAlphasCumprod, t, xT.rank), v)),
  );
}

/** ε = √ᾱ_t·v + √(1−ᾱ_t)·x_t (`predict_eps_from_z_and_v`). */
export function predictEpsFromZAndV(s: DiffusionSchedule, xT: tf.Tensor, v: tf.Tensor, t: readonly number[]): tf.Tensor {
  checkBatch(xT, t, 'predictEpsFromZAndV');
  return tf.tidy(() =>
    tf.add(tf.mul(extractIntoTensor(s.sqrtAlphasCumprod, t, xT.rank), v), tf.mul(extractIntoTensor(s.sqrtOneMinusAlphasCumprod, t, xT.rank), xT)),
  );
}

export interface QPosterior {
  mean: tf.Tensor;
  /** [B, 1, …, 1] */
  variance: tf.Tensor;
  /** [B, 1, …, 1] */
  logVarianceClipped: tf.Tensor;
}

/** q(x_{t−1} | x_t, x_0) = N(coef1·x_0 + coef2·x_t, β̃_t) (Ho et al. 2020, eqs. 6–7). */
export function qPosterior(s: DiffusionSchedule, x0: tf.Tensor, xT: tf.Tensor, t: readonly number[]): QPosterior {
  checkBatch(x0, t, 'qPosterior');
  return tf.tidy(() => ({
    mean: tf.add(tf.mul(extractIntoTensor(s.posteriorMeanCoef1, t, x0.rank), x0), tf.mul(extractIntoTensor(s.posteriorMeanCoef2, t, xT.rank), xT)),
    variance: extractIntoTensor(s.posteriorVariance, t, x0.rank),
    logVarianceClipped: extractIntoTensor(s.posteriorLogVarianceClipped, t, x0.rank),
  }));
}
