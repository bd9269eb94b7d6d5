import * as tf from '@tensorflow/tfjs-core';
import { replicatePad } from '@stablesr/core';

/** Levels of `wavelet_decomposition` in scripts/wavelet_color_fix.py. */
export const WAVELET_LEVELS = 5;

const KERNEL = [0.0625, 0.125, 0.0625, 0.125, 0.25, 0.125, 0.0625, 0.125, 0.0625];

/** `wavelet_blur`: replicate-pad by r, then the 3×3 binomial kernel at dilation r, per channel. */
function waveletBlur(x: tf.Tensor4D, radius: number): tf.Tensor4D {
  return tf.tidy(() => {
    const c = x.shape[3];
    const k = new Float32Array(9 * c);
    for (let i = 0; i < 9; i++) for (let ch = 0; ch < c; ch++) k[i * c + ch] = KERNEL[i]!;
    const filter = tf.tensor4d(k, [3, 3, c, 1]);
    return tf.depthwiseConv2d(replicatePad(x, radius), filter, 1, 'valid', 'NHWC', radius);
  });
}

/** `wavelet_decomposition`: high = Σ (img − blur) over levels, low = the last blur. */
export function waveletDecomposition(x: tf.Tensor4D, levels = WAVELET_LEVELS): { high: tf.Tensor4D; low: tf.Tensor4D } {
  if (!Number.isInteger(levels) || levels < 1) throw new Error(`wavelet colour fix: levels must be a positive integer, got ${levels}`);
  return tf.tidy(() => {
    let image = x;
    let high: tf.Tensor4D = tf.zerosLike(x);
    for (let i = 0; i < levels; i++) {
      const low = waveletBlur(image, 2 ** i);
      high = tf.add(high, tf.sub(image, low));
      image = low;
    }
    return { high, low: image };
  });
}

/** `wavelet_reconstruction(content, style)` = high frequencies of content + low frequencies of style. NHWC. */
export function waveletColorFix(content: tf.Tensor4D, style: tf.Tensor4D, levels = WAVELET_LEVELS): tf.Tensor4D {
  if (content.shape.some((d, i) => d !== style.shape[i])) {
    throw new Error(`wavelet colour fix: content [${content.shape}] and style [${style.shape}] must have the same shape`);
  }
  return tf.tidy(() => tf.add(waveletDecomposition(content, levels).high, waveletDecomposition(style, levels).low));
}
