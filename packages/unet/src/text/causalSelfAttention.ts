import * as tf from '@tensorflow/tfjs-core';
import { type Linear, linear } from '@stablesr/core';

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
 *
 * Runs as 2-D matMuls per (batch row, head) with kᵀ transposed once per row: batched 3-D matMul is an order of
 * magnitude slower on the wasm backend. (Core's `multiHeadAttention` has the same loop but no mask.)
 */
export function causalSelfAttention(a: AttentionProjections, x: tf.Tensor3D, mask: tf.Tensor2D): tf.Tensor3D {
  return tf.tidy(() => {
    const [n, t, w] = x.shape;
    if (w % a.heads !== 0) throw new Error(`self-attention: width ${w} does not split into ${a.heads} heads`);
    const d = w / a.heads;
    const flat = tf.reshape(x, [n * t, w]);
    // Scaling q (T·d products) instead of the scores is PyTorch's own order (`q = q * scaling` / SDPA).
    const q = tf.mul(linear(a.q, flat), 1 / Math.sqrt(d)) as tf.Tensor2D; // [N·T, W]
    const k = linear(a.k, flat) as tf.Tensor2D;
    const v = linear(a.v, flat) as tf.Tensor2D;
    const rows: tf.Tensor2D[] = [];
    for (let b = 0; b < n; b++) {
      const qb = tf.split(tf.slice(q, [b * t, 0], [t, w]), a.heads, 1); // heads × [T, d]
      const kTb = tf.split(tf.transpose(tf.slice(k, [b * t, 0], [t, w])), a.heads, 0); // heads × [d, T]
      const vb = tf.split(tf.slice(v, [b * t, 0], [t, w]), a.heads, 1); // heads × [T, d]
      const heads = qb.map((qh, h) => tf.matMul(tf.softmax(tf.add(tf.matMul(qh, kTb[h]!), mask)) as tf.Tensor2D, vb[h]!) as tf.Tensor2D);
      rows.push(a.heads === 1 ? heads[0]! : tf.concat(heads, 1)); // [T, W]
    }
    const o = n === 1 ? rows[0]! : tf.concat(rows, 0); // [N·T, W]
    return tf.reshape(linear(a.out, o), [n, t, w]) as tf.Tensor3D;
  });
}
