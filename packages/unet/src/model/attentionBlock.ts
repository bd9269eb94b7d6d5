import type * as tf from '@tensorflow/tfjs-core';
import { type GroupNorm, type Linear, type Ops, type WeightView, loadGroupNorm, loadLinear, tfjsOps } from '@stablesr/core';
import { type AttentionBudget, attentionOptions } from './crossAttention.js';
import { GROUP_NORM32_EPS } from './resBlock.js';

/**
 * `AttentionBlock` of openaimodel.py (used where `use_spatial_transformer` is off, and by StableSR's time-aware
 * encoder): GroupNorm32 → `qkv` 1-D conv C → 3C over the flattened H·W → attention → `proj_out` 1-D conv → + x.
 * Heads: `num_heads` when `num_head_channels` is −1, else C / num_head_channels.
 *
 * Legacy order (`QKVAttentionLegacy`, default) groups the 3C channels per head as [q(d) k(d) v(d)];
 * `use_new_attention_order` (`QKVAttention`) splits q, k, v first. Both scale q and k by d^−¼ each, which
 * is q·kᵀ·d^−½ up to rounding; softmax in float32.
 */
export interface AttentionBlock {
  readonly kind: 'AttentionBlock';
  readonly channels: number;
  readonly heads: number;
  readonly newOrder: boolean;
  readonly norm: GroupNorm;
  readonly qkv: Linear;
  readonly proj_out: Linear;
}

export function attentionBlockHeads(channels: number, numHeads: number, numHeadChannels: number, where = 'AttentionBlock'): number {
  if (numHeadChannels === -1) {
    if (!(numHeads > 0)) throw new Error(`${where}: num_heads must be set (> 0) when num_head_channels is -1, got ${numHeads}`);
    if (channels % numHeads !== 0) throw new Error(`${where}: ${channels} channels do not split into num_heads ${numHeads}`);
    return numHeads;
  }
  if (!(numHeadChannels > 0) || channels % numHeadChannels !== 0) {
    throw new Error(`${where}: q,k,v channels ${channels} is not divisible by num_head_channels ${numHeadChannels}`);
  }
  return channels / numHeadChannels;
}

export function loadAttentionBlock(view: WeightView, channels: number, numHeads = 1, numHeadChannels = -1, useNewAttentionOrder = false): AttentionBlock {
  return {
    kind: 'AttentionBlock',
    channels,
    heads: attentionBlockHeads(channels, numHeads, numHeadChannels, `AttentionBlock ${view.prefix}`),
    newOrder: useNewAttentionOrder,
    norm: loadGroupNorm(view, 'norm', channels, 32, GROUP_NORM32_EPS),
    qkv: loadLinear(view, 'qkv', channels, 3 * channels),
    proj_out: loadLinear(view, 'proj_out', channels, channels),
  };
}

/** Map x [B, H, W, C] → [B, H, W, C], on any engine. */
export function attentionBlockForwardOps<T>(ops: Ops<T>, a: AttentionBlock, x: T, budget?: AttentionBudget): T {
  return ops.scope(() => {
    const [, h, w, c] = ops.shape(x) as [number, number, number, number];
    const d = c / a.heads;
    const qkv = ops.linear(a.qkv, ops.toTokens(ops.groupNorm(a.norm, x))); // [B, T, 3C]
    // New order: [q k v] blocks of C. Legacy: per head [q(d) k(d) v(d)], i.e. [heads, 3, d] → three [B, T, heads·d].
    const [q, k, v] = (a.newOrder ? ops.split(qkv, 3) : ops.split(qkv, 3, a.heads)) as [T, T, T];
    const o = ops.attention(q, k, v, attentionOptions(a.heads, 1 / Math.sqrt(d), budget));
    return ops.add(x, ops.fromTokens(ops.linear(a.proj_out, o), h, w));
  });
}

/** {@link attentionBlockForwardOps} on TensorFlow.js (NHWC tensors). */
export function attentionBlockForward(a: AttentionBlock, x: tf.Tensor4D, opts?: AttentionBudget): tf.Tensor4D {
  return attentionBlockForwardOps(tfjsOps, a, x, opts) as tf.Tensor4D;
}
