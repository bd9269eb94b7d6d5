import * as tf from '@tensorflow/tfjs-core';
import { type Conv2d, type GroupNorm, type WeightView, conv2d, groupNorm, loadConv2d, loadGroupNorm, multiHeadAttention } from '@stablesr/core';
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
 * Bytes of one query chunk's float32 score block. Scores of a 2048×2048 image's mid block (256² positions)
 * would be 2^32 floats at once; chunking the queries keeps them at 32 MiB whatever the size.
 */
const SCORE_BUDGET_BYTES = 32 * 2 ** 20;

/**
 * Untiled forward over an NHWC tensor; memory bounded by chunking queries. The attention is core's
 * `multiHeadAttention` with one head (2-D matMuls against keys transposed once; the 1/√C scale applied to q).
 */
export function attnBlock(a: AttnBlock, x: tf.Tensor4D): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  return tf.tidy(() => {
    const hn = groupNorm(a.norm, x);
    const tokens = (conv: Conv2d): tf.Tensor3D => tf.reshape(conv2d(conv, hn), [b, h * w, c]); // [B, HW, C]
    const attended = multiHeadAttention(tokens(a.q), tokens(a.k), tokens(a.v), 1, { scale: 1 / Math.sqrt(c), scoreBudgetBytes: SCORE_BUDGET_BYTES });
    return tf.add(x, conv2d(a.proj_out, tf.reshape(attended, [b, h, w, c])));
  });
}
