import type * as tf from '@tensorflow/tfjs-core';
import { type LayerNorm, type Ops, type WeightView, loadLayerNorm, tfjsOps } from '@stablesr/core';
import { type AttentionBudget, type CrossAttention, crossAttentionForwardOps, loadCrossAttention } from './crossAttention.js';
import { type FeedForward, feedForwardForwardOps, loadFeedForward } from './feedForward.js';

/**
 * `BasicTransformerBlock`: `x += attn1(norm1(x))` (self-attention, or cross-attention on the context when
 * `disable_self_attn`), `x += attn2(norm2(x), context)`, `x += ff(norm3(x))`; LayerNorm eps 1e-5.
 */
export interface BasicTransformerBlock {
  readonly disableSelfAttn: boolean;
  readonly attn1: CrossAttention;
  readonly attn2: CrossAttention;
  readonly ff: FeedForward;
  readonly norm1: LayerNorm;
  readonly norm2: LayerNorm;
  readonly norm3: LayerNorm;
}

export function loadBasicTransformerBlock(view: WeightView, dim: number, heads: number, dimHead: number, contextDim: number | undefined, disableSelfAttn = false): BasicTransformerBlock {
  return {
    disableSelfAttn,
    attn1: loadCrossAttention(view.scope('attn1.'), dim, disableSelfAttn ? contextDim : undefined, heads, dimHead),
    ff: loadFeedForward(view.scope('ff.'), dim),
    attn2: loadCrossAttention(view.scope('attn2.'), dim, contextDim, heads, dimHead),
    norm1: loadLayerNorm(view, 'norm1', dim, 1e-5),
    norm2: loadLayerNorm(view, 'norm2', dim, 1e-5),
    norm3: loadLayerNorm(view, 'norm3', dim, 1e-5),
  };
}

/**
 * Tokens x [B, N, dim], context [B, M, contextDim] (self-attention in attn2 too when absent, as the reference), on
 * any engine.
 */
export function basicTransformerBlockForwardOps<T>(ops: Ops<T>, blk: BasicTransformerBlock, x: T, context?: T, budget?: AttentionBudget): T {
  return ops.scope(() => {
    let h = ops.add(crossAttentionForwardOps(ops, blk.attn1, ops.layerNorm(blk.norm1, x), blk.disableSelfAttn ? context : undefined, budget), x);
    h = ops.add(crossAttentionForwardOps(ops, blk.attn2, ops.layerNorm(blk.norm2, h), context, budget), h);
    return ops.add(feedForwardForwardOps(ops, blk.ff, ops.layerNorm(blk.norm3, h)), h);
  });
}

/** {@link basicTransformerBlockForwardOps} on TensorFlow.js. */
export function basicTransformerBlockForward(blk: BasicTransformerBlock, x: tf.Tensor3D, context?: tf.Tensor3D, opts?: AttentionBudget): tf.Tensor3D {
  return basicTransformerBlockForwardOps(tfjsOps, blk, x, context, opts) as tf.Tensor3D;
}
