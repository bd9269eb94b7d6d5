import * as tf from '@tensorflow/tfjs-core';
import { type LayerNorm, type MultiHeadAttentionOptions, type WeightView, layerNorm, loadLayerNorm } from '@stablesr/core';
import { type CrossAttention, crossAttentionForward, loadCrossAttention } from './crossAttention.js';
import { type FeedForward, feedForwardForward, loadFeedForward } from './feedForward.js';

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

/** x [B, N, dim], context [B, M, contextDim] (self-attention in attn2 too when absent, as the reference). */
export function basicTransformerBlockForward(blk: BasicTransformerBlock, x: tf.Tensor3D, context?: tf.Tensor3D, opts?: MultiHeadAttentionOptions): tf.Tensor3D {
  return tf.tidy(() => {
    let h = tf.add(crossAttentionForward(blk.attn1, layerNorm(blk.norm1, x) as tf.Tensor3D, blk.disableSelfAttn ? context : undefined, opts), x) as tf.Tensor3D;
    h = tf.add(crossAttentionForward(blk.attn2, layerNorm(blk.norm2, h) as tf.Tensor3D, context, opts), h);
    return tf.add(feedForwardForward(blk.ff, layerNorm(blk.norm3, h) as tf.Tensor3D, opts?.scoreBudgetBytes), h) as tf.Tensor3D;
  });
}
