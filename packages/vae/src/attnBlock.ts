import * as tf from '@tensorflow/tfjs-core';
import { type Conv2d, type GroupNorm, type WeightView, conv2d, groupNorm, loadConv2d, loadGroupNorm, scaledDotProductAttention } from '@stablesr/core';
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
 * would be 2^32 floats at once; chunking the queries keeps the scores at ~16 MB whatever the size.
 */
const SCORE_BUDGET = 1 << 22;

/** Untiled forward over an NHWC tensor; memory bounded by chunking queries. */
export function attnBlock(a: AttnBlock, x: tf.Tensor4D): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  const n = h * w;
  const chunk = Math.max(1, Math.min(n, Math.floor(SCORE_BUDGET / n)));
  return tf.tidy(() => {
    const hn = groupNorm(a.norm, x);
    const q = tf.reshape(conv2d(a.q, hn), [b, n, c]); // [B, HW, C]
    const k = tf.reshape(conv2d(a.k, hn), [b, n, c]);
    const v = tf.reshape(conv2d(a.v, hn), [b, n, c]);
    const rows: tf.Tensor3D[] = [];
    for (let bi = 0; bi < b; bi++) {
      const kb = tf.slice(k, [bi, 0, 0], [1, n, c]) as tf.Tensor3D;
      const vb = tf.slice(v, [bi, 0, 0], [1, n, c]) as tf.Tensor3D;
      const parts: tf.Tensor3D[] = [];
      for (let s = 0; s < n; s += chunk) {
        const len = Math.min(chunk, n - s);
        parts.push(tf.tidy(() => scaledDotProductAttention(tf.slice(q, [bi, s, 0], [1, len, c]) as tf.Tensor3D, kb, vb, { scale: 1 / Math.sqrt(c) })));
      }
      rows.push(parts.length === 1 ? parts[0]! : tf.concat(parts, 1));
    }
    const attended = tf.reshape(rows.length === 1 ? rows[0]! : tf.concat(rows, 0), [b, h, w, c]) as tf.Tensor4D;
    return tf.add(x, conv2d(a.proj_out, attended));
  });
}
