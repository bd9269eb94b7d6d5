import * as tf from '@tensorflow/tfjs-core';
import { type NoiseSource } from '@stablesr/core';

/** Clamp limits of `DiagonalGaussianDistribution` (`ldm/modules/distributions/distributions.py`). */
export const LOGVAR_MIN = -30;
export const LOGVAR_MAX = 20;

/**
 * `DiagonalGaussianDistribution` over NHWC moments `[B, H, W, 2·C]`: the first C channels are the mean,
 * the last C the log-variance (`torch.chunk(moments, 2, dim=1)`), clamped to [−30, 20].
 */
export interface DiagonalGaussian {
  readonly mean: tf.Tensor4D;
  readonly logvar: tf.Tensor4D;
  /** exp(0.5·logvar) */
  readonly std: tf.Tensor4D;
  /** exp(logvar) */
  readonly var: tf.Tensor4D;
}

/** Builds the distribution; the caller owns (and disposes, see {@link disposeDiagonalGaussian}) the tensors. */
export function diagonalGaussian(moments: tf.Tensor4D): DiagonalGaussian {
  const c2 = moments.shape[3];
  if (c2 % 2 !== 0) throw new Error(`posterior moments must have an even channel count (mean and logvar), got ${c2}`);
  return tf.tidy(() => {
    const [mean, raw] = tf.split(moments, 2, 3) as [tf.Tensor4D, tf.Tensor4D];
    const logvar = tf.clipByValue(raw, LOGVAR_MIN, LOGVAR_MAX);
    return { mean, logvar, std: tf.exp(tf.mul(logvar, 0.5)) as tf.Tensor4D, var: tf.exp(logvar) };
  });
}

/** `sample()`: mean + std·ε with ε drawn from `noise` (labelled `posterior`, one draw of the mean's shape). */
export function sampleDiagonalGaussian(d: DiagonalGaussian, noise: NoiseSource): tf.Tensor4D {
  const eps = noise.draw(d.mean.shape, 'posterior');
  try {
    return tf.tidy(() => tf.add(d.mean, tf.mul(d.std, eps)));
  } finally {
    eps.dispose();
  }
}

/** `mode()`: the mean (a copy, owned by the caller). */
export function modeDiagonalGaussian(d: DiagonalGaussian): tf.Tensor4D {
  return d.mean.clone();
}

/** `kl()` against N(0, I): 0.5·Σ_{h,w,c}(mean² + var − 1 − logvar), shape [B]. */
export function klDiagonalGaussian(d: DiagonalGaussian): tf.Tensor1D {
  return tf.tidy(() => tf.mul(tf.sum(tf.sub(tf.sub(tf.add(tf.square(d.mean), d.var), 1), d.logvar), [1, 2, 3]), 0.5) as tf.Tensor1D);
}

export function disposeDiagonalGaussian(d: DiagonalGaussian): void {
  d.mean.dispose();
  d.logvar.dispose();
  d.std.dispose();
  d.var.dispose();
}
