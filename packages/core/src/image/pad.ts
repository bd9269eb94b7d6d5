import * as tf from '@tensorflow/tfjs-core';

/**
 * Reflect padding at the bottom and right (PyTorch `F.pad(x, (0, padW, 0, padH), mode='reflect')`)
 * of an NHWC tensor. Like PyTorch, each pad must be smaller than that side.
 */
export function reflectPadBottomRight(x: tf.Tensor4D, padH: number, padW: number): tf.Tensor4D {
  const [, h, w] = x.shape;
  if (padH >= h || padW >= w) throw new Error(`reflect padding (${padH}, ${padW}) must be smaller than the image ${h}×${w}`);
  if (padH === 0 && padW === 0) return tf.clone(x);
  return tf.mirrorPad(x, [[0, 0], [0, padH], [0, padW], [0, 0]], 'reflect');
}

function clampedIndices(size: number, before: number, after: number): tf.Tensor1D {
  const idx = new Int32Array(size + before + after);
  for (let i = 0; i < idx.length; i++) idx[i] = Math.min(Math.max(i - before, 0), size - 1);
  return tf.tensor1d(idx, 'int32');
}

/** Replicate (edge) padding of an NHWC tensor by `r` on every side (PyTorch `mode='replicate'`); any `r ≥ 0`. */
export function replicatePad(x: tf.Tensor4D, r: number): tf.Tensor4D {
  const [, h, w] = x.shape;
  return tf.tidy(() => {
    const rows = tf.gather(x, clampedIndices(h, r, r), 1);
    return tf.gather(rows, clampedIndices(w, r, r), 2) as tf.Tensor4D;
  });
}
