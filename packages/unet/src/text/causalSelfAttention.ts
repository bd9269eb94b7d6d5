import * as tf from '@tensorflow/tfjs-core';
import { type Linear, linear, multiHeadAttention } from '@stablesr/core';

/** The four projections of a multi-head self-attention, heads split contiguously along the width. */
export interface AttentionProjections {
  readonly heads: number;
  readonly q: Linear;
  readonly k: Linear;
  readonly v: Linear;
  readonly out: Linear;
}

/** Additive causal mask `[n, n]`: 0 on and below the diagonal, −∞ above (open_clip `build_attention_mask`, HF `_create_4d_causal_attention_mask`). */
export function causalMask(n: number): tf.Tensor2D {
  const data = new Float32Array(n * n);
  for (let i = 0; i < n; i++) data.fill(-Infinity, i * n + i + 1, (i + 1) * n);
  return tf.tensor2d(data, [n, n]);
}

/**
 * Masked multi-head self-attention over x `[N, T, W]` → `[N, T, W]`, with `nn.MultiheadAttention` / HF `CLIPAttention`
 * semantics: q, k, v = x·Wᵀ + b; per head softmax(q·kᵀ·d^−½ + mask)·v; heads concatenated; output projection.
 * The attention itself is core's `multiHeadAttention` (2-D matMuls per batch row and head, q scaled before the
 * product as PyTorch does: `q = q * scaling` / SDPA).
 */
export function causalSelfAttention(a: AttentionProjections, x: tf.Tensor3D, mask: tf.Tensor2D): tf.Tensor3D {
  return tf.tidy(() => {
    const [n, t, w] = x.shape;
    if (w % a.heads !== 0) throw new Error(`self-attention: width ${w} does not split into ${a.heads} heads`);
    const flat = tf.reshape(x, [n * t, w]);
    const proj = (l: Linear): tf.Tensor3D => tf.reshape(linear(l, flat), [n, t, w]);
    const o = multiHeadAttention(proj(a.q), proj(a.k), proj(a.v), a.heads, { mask }); // [N, T, W]
    return tf.reshape(linear(a.out, tf.reshape(o, [n * t, w])), [n, t, w]) as tf.Tensor3D;
  });
}
