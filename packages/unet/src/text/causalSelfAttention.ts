import * as tf from '@tensorflow/tfjs-core';
import { type Linear, type Ops, causalMaskData, tfjsOps } from '@stablesr/core';

/** The four projections of a multi-head self-attention, heads split contiguously along the width. */
export interface AttentionProjections {
  readonly heads: number;
  readonly q: Linear;
  readonly k: Linear;
  readonly v: Linear;
  readonly out: Linear;
}

/**
 * Additive causal mask `[n, n]`: 0 on and below the diagonal, −∞ above (open_clip `build_attention_mask`, HF
 * `_create_4d_causal_attention_mask`). The towers no longer hold one (their attention is `causal: true`, each
 * engine builds its own); kept for benches and tests that compare against an explicit mask.
 */
export function causalMask(n: number): tf.Tensor2D {
  return tf.tensor2d(causalMaskData(n, n), [n, n]);
}

/**
 * Causal multi-head self-attention over x `[B, N, W]` → `[B, N, W]`, with `nn.MultiheadAttention` / HF
 * `CLIPAttention` semantics: q, k, v = x·Wᵀ + b; per head softmax(q·kᵀ·d^−½, −∞ above the diagonal)·v; heads
 * concatenated (contiguous `(h d)` channels); output projection. Written once against {@link Ops}.
 */
export function causalSelfAttentionOps<T>(ops: Ops<T>, a: AttentionProjections, x: T): T {
  const w = ops.shape(x)[2]!;
  if (w % a.heads !== 0) throw new Error(`self-attention: width ${w} does not split into ${a.heads} heads`);
  return ops.scope(() => {
    const o = ops.attention(ops.linear(a.q, x), ops.linear(a.k, x), ops.linear(a.v, x), { heads: a.heads, scale: 1 / Math.sqrt(w / a.heads), causal: true });
    return ops.linear(a.out, o);
  });
}

/**
 * {@link causalSelfAttentionOps} on TensorFlow.js. The attention is always causal; `mask`, if given, must be
 * {@link causalMask}`(N)` (only its shape is checked) and is accepted for callers written before the op interface.
 */
export function causalSelfAttention(a: AttentionProjections, x: tf.Tensor3D, mask?: tf.Tensor2D): tf.Tensor3D {
  const t = x.shape[1];
  if (mask && (mask.shape[0] !== t || mask.shape[1] !== t)) throw new Error(`self-attention: mask [${mask.shape}] is not the causal mask of ${t} tokens`);
  return causalSelfAttentionOps(tfjsOps, a, x) as tf.Tensor3D;
}
