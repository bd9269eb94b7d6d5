import * as tf from '@tensorflow/tfjs-core';

/**
 * Linear ("efficient") attention of the IR-SDE / denoising-diffusion U-Nets (`module_util.py` `LinearAttention`,
 * after Shen et al. 2018): per head, queries are softmaxed over their channels and keys over positions, then
 * `out = (q·scale) · (kᵀ v)`. The cost is linear in the number of positions, so no score matrix is ever formed.
 * q, k [B, N, H·d], v [B, N, H·e] with heads split contiguously along channels (einops `(h c)`) → [B, N, H·e].
 */
export function linearAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, heads: number, scale: number): tf.Tensor3D {
  const [b, n, c] = q.shape;
  const ev = v.shape[2];
  if (k.shape[0] !== b || k.shape[1] !== n || k.shape[2] !== c || v.shape[0] !== b || v.shape[1] !== n || c % heads !== 0 || ev % heads !== 0) {
    throw new Error(`linearAttention: q [${q.shape}], k [${k.shape}], v [${v.shape}] with ${heads} heads`);
  }
  const d = c / heads;
  const e = ev / heads;
  return tf.tidy(() => {
    // tfjs softmaxes the last axis only: queries as [B, H, N, d] (over d), keys as [B, H, d, N] (over positions).
    const qh = tf.mul(tf.softmax(tf.transpose(tf.reshape(q, [b, n, heads, d]), [0, 2, 1, 3])), scale);
    const kh = tf.softmax(tf.transpose(tf.reshape(k, [b, n, heads, d]), [0, 2, 3, 1]));
    const vh = tf.transpose(tf.reshape(v, [b, n, heads, e]), [0, 2, 1, 3]); // [B, H, N, e]
    const context = tf.matMul(kh, vh); // [B, H, d, e]
    const out = tf.matMul(qh, context); // [B, H, N, e]
    return tf.reshape(tf.transpose(out, [0, 2, 1, 3]), [b, n, heads * e]) as tf.Tensor3D;
  });
}
