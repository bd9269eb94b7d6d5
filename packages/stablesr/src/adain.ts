import * as tf from '@tensorflow/tfjs-core';

/** Default ε of `calc_mean_std` in scripts/wavelet_color_fix.py. */
export const ADAIN_EPS = 1e-5;

/** Per (batch, channel) mean and `√(unbiased variance + eps)` over H·W of an NHWC tensor. */
function meanStd(x: tf.Tensor4D, eps: number): { mean: tf.Tensor; std: tf.Tensor } {
  const [, h, w] = x.shape;
  const n = h * w;
  if (n < 2) throw new Error(`adain colour fix: needs at least 2 pixels, got ${h}×${w}`);
  const { mean, variance } = tf.moments(x, [1, 2], true);
  // torch.var is unbiased (n − 1); tf.moments gives the biased variance.
  const unbiased = tf.mul(variance, n / (n - 1));
  return { mean, std: tf.sqrt(tf.add(unbiased, eps)) };
}

/**
 * Adaptive instance normalisation colour fix (`adaptive_instance_normalization(content, style)`):
 * `(c − mean_c)/std_c · std_s + mean_s` per (batch, channel). NHWC in, NHWC out.
 */
export function adainColorFix(content: tf.Tensor4D, style: tf.Tensor4D, eps = ADAIN_EPS): tf.Tensor4D {
  if (content.shape[0] !== style.shape[0] || content.shape[3] !== style.shape[3]) {
    throw new Error(`adain colour fix: content [${content.shape}] and style [${style.shape}] differ in batch or channels`);
  }
  return tf.tidy(() => {
    const c = meanStd(content, eps);
    const s = meanStd(style, eps);
    return tf.add(tf.mul(tf.div(tf.sub(content, c.mean), c.std), s.std), s.mean) as tf.Tensor4D;
  });
}
