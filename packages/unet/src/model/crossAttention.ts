import * as tf from '@tensorflow/tfjs-core';
import { type Linear, type MultiHeadAttentionOptions, type WeightView, linear, loadLinear, multiHeadAttention } from '@stablesr/core';

/**
 * `CrossAttention` of ldm/modules/attention.py: `to_q`/`to_k`/`to_v` without bias, heads split the channel
 * axis contiguously (`(h d)`), `softmax(q kᵀ · d^−½)`, `to_out.0` Linear with bias. Self-attention when no
 * context is given.
 */
export interface CrossAttention {
  readonly queryDim: number;
  readonly contextDim: number;
  readonly heads: number;
  readonly dimHead: number;
  readonly to_q: Linear;
  readonly to_k: Linear;
  readonly to_v: Linear;
  readonly to_out: { readonly 0: Linear };
}

export function loadCrossAttention(view: WeightView, queryDim: number, contextDim: number | undefined, heads: number, dimHead: number): CrossAttention {
  const inner = heads * dimHead;
  const ctx = contextDim ?? queryDim;
  return {
    queryDim,
    contextDim: ctx,
    heads,
    dimHead,
    to_q: loadLinear(view, 'to_q', queryDim, inner, false),
    to_k: loadLinear(view, 'to_k', ctx, inner, false),
    to_v: loadLinear(view, 'to_v', ctx, inner, false),
    to_out: { 0: loadLinear(view, 'to_out.0', inner, queryDim) },
  };
}

/** x [B, N, queryDim], context [B, M, contextDim] (default x) → [B, N, queryDim]. */
export function crossAttentionForward(a: CrossAttention, x: tf.Tensor3D, context?: tf.Tensor3D, opts?: MultiHeadAttentionOptions): tf.Tensor3D {
  return tf.tidy(() => {
    const ctx = context ?? x;
    if (ctx.shape[2] !== a.contextDim) {
      throw new Error(`cross-attention: context width ${ctx.shape[2]} does not match the model's context_dim ${a.contextDim}`);
    }
    if (ctx.shape[0] !== x.shape[0]) throw new Error(`cross-attention: context batch ${ctx.shape[0]} ≠ input batch ${x.shape[0]}`);
    const q = linear(a.to_q, x) as tf.Tensor3D;
    const k = linear(a.to_k, ctx) as tf.Tensor3D;
    const v = linear(a.to_v, ctx) as tf.Tensor3D;
    const o = multiHeadAttention(q, k, v, a.heads, { ...opts, scale: a.dimHead ** -0.5 });
    return linear(a.to_out[0], o) as tf.Tensor3D;
  });
}
