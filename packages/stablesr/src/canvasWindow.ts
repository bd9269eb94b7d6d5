import * as tf from '@tensorflow/tfjs-core';
import { type ImagePatch, bicubicMatrixRows, resizeSeparable } from '@stablesr/core';
import { type CanvasGeometry } from './preprocess.js';

/**
 * One window of the pre-processed canvas (`preprocessCanvas`: bicubic upscale, clamp, reflect pad bottom/right)
 * computed from the LR image alone, so that large images never hold the whole upscaled canvas: only the LR
 * rows / columns the window's bicubic taps read are touched. NHWC in [-1, 1], `[B, box.h, box.w, C]`.
 */
export function canvasWindow(lr: tf.Tensor4D, g: CanvasGeometry, box: ImagePatch): tf.Tensor4D {
  const [, h, w] = lr.shape;
  if (box.y0 < 0 || box.x0 < 0 || box.h < 1 || box.w < 1 || box.y0 + box.h > g.oriH + g.padH || box.x0 + box.w > g.oriW + g.padW) {
    throw new Error(`canvas window ${box.w}×${box.h} at (${box.x0}, ${box.y0}) outside the ${g.oriW + g.padW}×${g.oriH + g.padH} canvas`);
  }
  const rows = axisWindow(h, g.oriH, box.y0, box.h);
  const cols = axisWindow(w, g.oriW, box.x0, box.w);
  return tf.tidy(() => {
    const x = tf.slice(lr, [0, rows.src0, cols.src0, 0], [-1, rows.span, cols.span, -1]);
    const up = resizeSeparable(x, tf.tensor2d(rows.matrix, [box.h, rows.span]), tf.tensor2d(cols.matrix, [box.w, cols.span]));
    return tf.clipByValue(up, -1, 1) as tf.Tensor4D;
  });
}

/**
 * Interpolation rows for canvas positions `start … start + len − 1` along one axis, restricted to the input
 * span they read. Positions past the upscaled size are the reflect padding: `p ≥ n` reads row `2n − 2 − p`
 * (PyTorch `mode='reflect'`, no edge repeat); clamping before padding commutes with the reflection.
 */
function axisWindow(inSize: number, outSize: number, start: number, len: number): { matrix: Float32Array; src0: number; span: number } {
  const src = Array.from({ length: len }, (_, i) => (start + i < outSize ? start + i : 2 * outSize - 2 - (start + i)));
  const lo = Math.min(...src);
  const hi = Math.max(...src);
  const full = bicubicMatrixRows(inSize, outSize, lo, hi - lo + 1); // [hi − lo + 1, inSize]
  let src0 = inSize;
  let src1 = -1;
  for (let i = 0; i < full.length; i++) {
    if (full[i] !== 0) {
      const c = i % inSize;
      if (c < src0) src0 = c;
      if (c > src1) src1 = c;
    }
  }
  if (src1 < src0) [src0, src1] = [0, inSize - 1];
  const span = src1 - src0 + 1;
  const matrix = new Float32Array(len * span);
  for (let i = 0; i < len; i++) {
    const row = (src[i]! - lo) * inSize;
    matrix.set(full.subarray(row + src0, row + src0 + span), i * span);
  }
  return { matrix, src0, span };
}
