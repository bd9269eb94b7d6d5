import * as tf from '@tensorflow/tfjs-core';

export interface AttentionOptions {
  /** Multiplier of q·kᵀ (default d^−½). */
  scale?: number;
  /** Additive mask broadcastable to [Nq, Nk] (e.g. a causal mask of −∞ above the diagonal). */
  mask?: tf.Tensor2D;
}

/**
 * softmax(q·kᵀ·scale + mask)·v for q [BH, Nq, d], k [BH, Nk, d], v [BH, Nk, dv] → [BH, Nq, dv].
 * The one attention kernel of the library (VAE, U-Net, time-aware encoder, text towers).
 */
export function scaledDotProductAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, opts: AttentionOptions = {}): tf.Tensor3D {
  return tf.tidy(() => {
    const d = q.shape[2];
    const scale = opts.scale ?? 1 / Math.sqrt(d);
    let scores = tf.mul(tf.matMul(q, k, false, true), scale);
    if (opts.mask) scores = tf.add(scores, opts.mask);
    return tf.matMul(tf.softmax(scores), v) as tf.Tensor3D;
  });
}
