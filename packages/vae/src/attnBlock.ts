import * as tf from '@tensorflow/tfjs-core';
import { type Conv2d, type GroupNorm, type WeightView, conv2d, groupNorm, loadConv2d, loadGroupNorm } from '@stablesr/core';
import { VAE_NORM_EPS, VAE_NORM_GROUPS } from './config.js';

/**
 * `AttnBlock` (single head over all H·W positions): q, k, v are 1×1 convs of `norm(x)`,
 * `softmax(q·kᵀ/√C)` over key positions (row-major), `proj_out` 1×1, residual `x + …`.
 */
export interface AttnBlock {
  readonly channels: number;
  readonly norm: GroupNorm;
  readonly q: Conv2d;
  readonly k: Conv2d;
  readonly v: Conv2d;
  readonly proj_out: Conv2d;
}

export function loadAttnBlock(view: WeightView, channels: number): AttnBlock {
  return {
    channels,
    norm: loadGroupNorm(view, 'norm', channels, VAE_NORM_GROUPS, VAE_NORM_EPS),
    q: loadConv2d(view, 'q', channels, channels, 1),
    k: loadConv2d(view, 'k', channels, channels, 1),
    v: loadConv2d(view, 'v', channels, channels, 1),
    proj_out: loadConv2d(view, 'proj_out', channels, channels, 1),
  };
}

/**
 * Elements of one query chunk's score matrix. Scores of a 2048×2048 image's mid block (256² positions)
 * would be 2^32 floats at once; chunking the queries keeps them at ~32 MB whatever the size.
 */
const SCORE_BUDGET = 1 << 23;

/**
 * Untiled forward over an NHWC tensor; memory bounded by chunking queries.
 *
 * Runs as 2-D matMuls against keys transposed once, instead of the library's batched
 * `scaledDotProductAttention` (which multiplies by kᵀ through `transposeB`): on tfjs-wasm that path
 * measured 2.9 GFLOP/s against 22 GFLOP/s here (N = 16384, C = 32, 256-query chunks). The 1/√C scale is
 * applied to q before the product (same value up to rounding, N/C times fewer multiplies).
 */
export function attnBlock(a: AttnBlock, x: tf.Tensor4D): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  const n = h * w;
  const chunk = Math.max(1, Math.min(n, Math.floor(SCORE_BUDGET / n)));
  return tf.tidy(() => {
    const hn = groupNorm(a.norm, x);
    const q = tf.reshape(tf.mul(conv2d(a.q, hn), 1 / Math.sqrt(c)), [b * n, c]); // [B·HW, C]
    const k = tf.reshape(conv2d(a.k, hn), [b * n, c]);
    const v = tf.reshape(conv2d(a.v, hn), [b * n, c]);
    const rows: tf.Tensor2D[] = [];
    for (let bi = 0; bi < b; bi++) {
      const kT = tf.transpose(tf.slice(k, [bi * n, 0], [n, c])); // [C, HW]
      const vb = tf.slice(v, [bi * n, 0], [n, c]); // [HW, C]
      for (let s = 0; s < n; s += chunk) {
        const len = Math.min(chunk, n - s);
        // softmax over key positions of the scaled scores [len, HW], then the weighted values [len, C]
        rows.push(tf.tidy(() => tf.matMul(tf.softmax(tf.matMul(tf.slice(q, [bi * n + s, 0], [len, c]), kT)), vb)));
      }
    }
    const attended = tf.reshape(rows.length === 1 ? rows[0]! : tf.concat(rows, 0), [b, h, w, c]) as tf.Tensor4D;
    return tf.add(x, conv2d(a.proj_out, attended));
  });
}
