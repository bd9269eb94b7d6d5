import * as tf from '@tensorflow/tfjs-core';

/**
 * Interpolation matrices that reproduce PyTorch's `F.interpolate(..., align_corners=False)` (no antialias)
 * exactly, as dense [out, in] matrices: resizing is then `Mh · X · Mwᵀ`, two 2-D matMuls per image.
 * Index arithmetic follows ATen's `area_pixel_compute_source_index` and `guard_index_and_lambda`
 * (UpSample.h) in float32, so floor() lands on the same source pixel as the reference.
 */

const f32 = Math.fround;

/** ATen's source index for output pixel `dst` (float32 arithmetic). `cubic` skips the clamp at 0. */
function sourceIndex(scale: number, dst: number, cubic: boolean): number {
  const real = f32(f32(scale * f32(dst + 0.5)) - 0.5);
  return !cubic && real < 0 ? 0 : real;
}

/** `guard_index_and_lambda`: integer part clamped to the last pixel, fraction clamped to [0, 1]. */
function guard(real: number, inSize: number): { index: number; lambda: number } {
  const index = Math.min(Math.floor(real), inSize - 1);
  const lambda = Math.min(Math.max(f32(real - index), 0), 1);
  return { index, lambda };
}

function checkSizes(what: string, inSize: number, outSize: number): void {
  if (!Number.isInteger(inSize) || inSize < 1) throw new Error(`${what}: input size must be a positive integer, got ${inSize}`);
  if (!Number.isInteger(outSize) || outSize < 1) throw new Error(`${what}: output size must be a positive integer, got ${outSize}`);
}

// Keys's cubic convolution with A = −0.75 (ATen `cubic_convolution1/2`), in float32.
const A = -0.75;
function cubic1(x: number): number {
  return f32(f32(f32(f32(f32((A + 2) * x) - (A + 3)) * x) * x) + 1);
}
function cubic2(x: number): number {
  return f32(f32(f32(f32(f32(f32(A * x) - 5 * A) * x) + 8 * A) * x) - 4 * A);
}

/** Row-major [outSize, inSize] matrix of PyTorch bicubic interpolation (A = −0.75, borders clamped). */
export function bicubicMatrix(inSize: number, outSize: number): Float32Array {
  return bicubicMatrixRows(inSize, outSize, 0, outSize);
}

/**
 * Rows `start … start + count − 1` of {@link bicubicMatrix} (row-major [count, inSize]), so that a window of a
 * large upscaled image can be computed without the whole [outSize, inSize] matrix.
 */
export function bicubicMatrixRows(inSize: number, outSize: number, start: number, count: number): Float32Array {
  checkSizes('bicubic resize', inSize, outSize);
  if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > outSize) {
    throw new Error(`bicubic resize: rows [${start}, ${start + count}) outside the ${outSize} output rows`);
  }
  const m = new Float32Array(count * inSize);
  const scale = f32(inSize / outSize);
  for (let r = 0; r < count; r++) {
    const { index, lambda } = guard(sourceIndex(scale, start + r, true), inSize);
    const t = lambda;
    const coeffs = [cubic2(f32(t + 1)), cubic1(t), cubic1(f32(1 - t)), cubic2(f32(f32(1 - t) + 1))];
    for (let j = 0; j < 4; j++) {
      // Taps outside the image read the border pixel (ATen `upsample_get_value_bounded`).
      const src = Math.max(Math.min(index - 1 + j, inSize - 1), 0);
      m[r * inSize + src] = f32(m[r * inSize + src]! + coeffs[j]!);
    }
  }
  return m;
}

/** Row-major [outSize, inSize] matrix of PyTorch bilinear interpolation (align_corners=False, no antialias). */
export function bilinearMatrix(inSize: number, outSize: number): Float32Array {
  checkSizes('bilinear resize', inSize, outSize);
  const m = new Float32Array(outSize * inSize);
  const scale = f32(inSize / outSize);
  for (let o = 0; o < outSize; o++) {
    const { index, lambda } = guard(sourceIndex(scale, o, false), inSize);
    const next = index < inSize - 1 ? index + 1 : index;
    m[o * inSize + index] = f32(m[o * inSize + index]! + f32(1 - lambda));
    m[o * inSize + next] = f32(m[o * inSize + next]! + lambda);
  }
  return m;
}

/**
 * Applies separable interpolation matrices to an NHWC batch: `y[b] = Mh · x[b] · Mwᵀ` per channel.
 * `mh` is [outH, H], `mw` is [outW, W]. Uses 2-D matMuls only (fast on wasm).
 */
export function resizeSeparable(x: tf.Tensor4D, mh: tf.Tensor2D, mw: tf.Tensor2D): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  const [outH, mhIn] = mh.shape;
  const [outW, mwIn] = mw.shape;
  if (mhIn !== h || mwIn !== w) throw new Error(`resize: matrices [${mh.shape}] / [${mw.shape}] do not fit an image of ${h}×${w}`);
  return tf.tidy(() => {
    const rows: tf.Tensor3D[] = [];
    for (let i = 0; i < b; i++) {
      const xb = tf.reshape(tf.slice(x, [i, 0, 0, 0], [1, h, w, c]), [h, w * c]) as tf.Tensor2D;
      const y1 = tf.matMul(mh, xb); // [outH, W·C]
      const t1 = tf.reshape(tf.transpose(tf.reshape(y1, [outH, w, c]), [1, 0, 2]), [w, outH * c]) as tf.Tensor2D; // [W, outH·C]
      const y2 = tf.matMul(mw, t1); // [outW, outH·C]
      rows.push(tf.transpose(tf.reshape(y2, [outW, outH, c]), [1, 0, 2]) as tf.Tensor3D); // [outH, outW, C]
    }
    return tf.stack(rows) as tf.Tensor4D;
  });
}

function resizeWith(matrix: (i: number, o: number) => Float32Array, x: tf.Tensor4D, outH: number, outW: number): tf.Tensor4D {
  const [, h, w] = x.shape;
  return tf.tidy(() => {
    const mh = tf.tensor2d(matrix(h, outH), [outH, h]);
    const mw = tf.tensor2d(matrix(w, outW), [outW, w]);
    return resizeSeparable(x, mh, mw);
  });
}

/** `F.interpolate(x, size=(outH, outW), mode='bicubic', align_corners=False)` on an NHWC tensor. */
export function resizeBicubic(x: tf.Tensor4D, outH: number, outW: number): tf.Tensor4D {
  return resizeWith(bicubicMatrix, x, outH, outW);
}

/** `F.interpolate(x, size=(outH, outW), mode='bilinear', align_corners=False)` (no antialias) on an NHWC tensor. */
export function resizeBilinear(x: tf.Tensor4D, outH: number, outW: number): tf.Tensor4D {
  return resizeWith(bilinearMatrix, x, outH, outW);
}
