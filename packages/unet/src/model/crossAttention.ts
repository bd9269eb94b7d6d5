import type * as tf from '@tensorflow/tfjs-core';
import { type AttentionOptions, type Linear, type Ops, type WeightView, loadLinear, tfjsOps } from '@stablesr/core';

/** The attention options a U-Net forward passes down to every attention layer (the scale is each layer's own). */
export type AttentionBudget = Pick<AttentionOptions, 'scoreBudgetBytes'>;

/** The {@link AttentionOptions} of one layer: its heads and scale, plus the caller's budget. */
export function attentionOptions(heads: number, scale: number, budget?: AttentionBudget): AttentionOptions {
  return { heads, scale, ...(budget?.scoreBudgetBytes !== undefined ? { scoreBudgetBytes: budget.scoreBudgetBytes } : {}) };
}

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

/** Tokens x [B, N, queryDim], context [B, M, contextDim] (default x) → [B, N, queryDim], on any engine. */
export function crossAttentionForwardOps<T>(ops: Ops<T>, a: CrossAttention, x: T, context?: T, budget?: AttentionBudget): T {
  const ctx = context ?? x;
  const [cb, , cw] = ops.shape(ctx);
  const xb = ops.shape(x)[0];
  if (cw !== a.contextDim) throw new Error(`cross-attention: context width ${cw} does not match the model's context_dim ${a.contextDim}`);
  if (cb !== xb) throw new Error(`cross-attention: context batch ${cb} ≠ input batch ${xb}`);
  return ops.scope(() => {
    const q = ops.linear(a.to_q, x);
    const k = ops.linear(a.to_k, ctx);
    const v = ops.linear(a.to_v, ctx);
    const o = ops.attention(q, k, v, attentionOptions(a.heads, a.dimHead ** -0.5, budget));
    return ops.linear(a.to_out[0], o);
  });
}

/** {@link crossAttentionForwardOps} on TensorFlow.js. */
export function crossAttentionForward(a: CrossAttention, x: tf.Tensor3D, context?: tf.Tensor3D, opts?: AttentionBudget): tf.Tensor3D {
  return crossAttentionForwardOps(tfjsOps, a, x, context, opts) as tf.Tensor3D;
}
