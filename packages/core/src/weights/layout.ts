import * as tf from '@tensorflow/tfjs-core';

/**
 * The one place where PyTorch layouts become tfjs layouts. Models ask the weight view for
 * `conv2d`/`linear` weights and never transpose by themselves. (tfjs → ONNX for conv filters: filterLayout.ts.)
 */

/** Conv weight `[out, in, kh, kw]` (OIHW) → `[kh, kw, in, out]` (HWIO) for `tf.conv2d`. */
export function oihwToHwio(data: Float32Array, shape: readonly number[]): tf.Tensor4D {
  const [o, i, h, w] = shape as [number, number, number, number];
  const out = new Float32Array(data.length);
  for (let oo = 0; oo < o; oo++)
    for (let ii = 0; ii < i; ii++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) out[((y * w + x) * i + ii) * o + oo] = data[((oo * i + ii) * h + y) * w + x]!;
  return tf.tensor4d(out, [h, w, i, o]);
}

/** Linear weight `[out, in]` → `[in, out]`, so that `y = x · W + b` is a plain matMul. */
export function outInToInOut(data: Float32Array, shape: readonly number[]): tf.Tensor2D {
  const [o, i] = shape as [number, number];
  const out = new Float32Array(data.length);
  for (let oo = 0; oo < o; oo++) for (let ii = 0; ii < i; ii++) out[ii * o + oo] = data[oo * i + ii]!;
  return tf.tensor2d(out, [i, o]);
}

/** NCHW tensor (fixture / PyTorch layout) → NHWC (tfjs layout). */
export function nchwToNhwc(t: tf.Tensor4D): tf.Tensor4D {
  return tf.transpose(t, [0, 2, 3, 1]);
}

/** NHWC → NCHW, for comparing with or writing PyTorch-layout data. */
export function nhwcToNchw(t: tf.Tensor4D): tf.Tensor4D {
  return tf.transpose(t, [0, 3, 1, 2]);
}
