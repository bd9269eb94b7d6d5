import * as tf from '@tensorflow/tfjs-core';
import { type GroupNorm, type Linear, type WeightView, groupNorm, linear, loadGroupNorm, loadLinear, multiHeadAttention } from '@stablesr/core';
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

export function attentionBlockForward(a: AttentionBlock, x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, h, w, c] = x.shape;
    const t = h * w;
    const d = c / a.heads;
    const qkv = linear(a.qkv, tf.reshape(groupNorm(a.norm, x), [b, t, c])); // [B, T, 3C]
    let q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D;
    if (a.newOrder) {
      [q, k, v] = tf.split(qkv, 3, 2) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
    } else {
      // [B, T, heads, 3d] → three [B, T, heads, d] → [B, T, heads·d] with heads contiguous.
      const parts = tf.split(tf.reshape(qkv, [b, t, a.heads, 3 * d]), 3, 3);
      [q, k, v] = parts.map((p) => tf.reshape(p, [b, t, c])) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
    }
    const o = multiHeadAttention(q, k, v, a.heads, { scale: 1 / Math.sqrt(d) });
    return tf.add(x, tf.reshape(linear(a.proj_out, o), [b, h, w, c])) as tf.Tensor4D;
  });
}
