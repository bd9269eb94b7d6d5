import type * as tf from '@tensorflow/tfjs-core';
import { type Conv2d, type GroupNorm, type Ops, type WeightView, loadConv2d, loadGroupNorm, tfjsOps } from '@stablesr/core';
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
 * Forward on any engine over a feature map [B, H, W, C]: GroupNorm, the 1×1 q/k/v convs as tokens
 * [B, H·W, C], one-head attention with scale 1/√C (eager engines chunk the queries to
 * {@link SCORE_BUDGET_BYTES} of scores at once), back to a map, `proj_out`, residual.
 */
export function attnBlockForward<T>(ops: Ops<T>, a: AttnBlock, x: T): T {
  const [, h, w, c] = ops.shape(x) as [number, number, number, number];
  if (c !== a.channels) throw new Error(`AttnBlock of ${a.channels} channels applied to ${c}`);
  return ops.scope(() => {
    const hn = ops.groupNorm(a.norm, x);
    const tokens = (conv: Conv2d): T => ops.toTokens(ops.conv2d(conv, hn)); // [B, HW, C]
    const attended = ops.attention(tokens(a.q), tokens(a.k), tokens(a.v), { heads: 1, scale: 1 / Math.sqrt(c), scoreBudgetBytes: SCORE_BUDGET_BYTES });
    return ops.add(x, ops.conv2d(a.proj_out, ops.fromTokens(attended, h, w)));
  });
}

/** Untiled eager forward over an NHWC tensor ({@link attnBlockForward} on {@link tfjsOps}). */
export function attnBlock(a: AttnBlock, x: tf.Tensor4D): tf.Tensor4D {
  return attnBlockForward(tfjsOps, a, x) as tf.Tensor4D;
}
