import * as tf from '@tensorflow/tfjs-core';

export interface MultiHeadAttentionOptions {
  /** Multiplier of q·kᵀ (default d^−½ with d the per-head query width). */
  scale?: number;
  /**
   * Upper bound, in bytes, of the float32 score block [rows, Nk] materialised at once. Queries are
   * processed in row chunks sized from it, so a 128×128-latent self-attention (16384² scores per head)
   * never holds a whole score matrix. Default 64 MiB. (The U-Net also bounds its feed-forward hidden
   * activations with it.)
   */
  scoreBudgetBytes?: number;
  /**
   * Additive mask [Nq, Nk] (or [1, Nk]) added to the scaled scores of every batch row and head before the
   * softmax, e.g. a causal mask of −∞ above the diagonal (text towers).
   */
  mask?: tf.Tensor2D;
}

/**
 * Values of an additive causal mask for query rows `rowOffset … rowOffset + rows` over `cols` keys: 0 on and below
 * the diagonal, −∞ above (open_clip `build_attention_mask`, HF `_create_4d_causal_attention_mask`).
 */
export function causalMaskData(rows: number, cols: number, rowOffset = 0): Float32Array {
  const data = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) data.fill(-Infinity, i * cols + Math.min(cols, rowOffset + i + 1), (i + 1) * cols);
  return data;
}

/** Default {@link MultiHeadAttentionOptions.scoreBudgetBytes}. */
export const DEFAULT_SCORE_BUDGET_BYTES = 64 * 2 ** 20;

/** Query rows per chunk so that one [rows, nk] float32 score block stays within `budgetBytes`. */
export function attentionChunkRows(nq: number, nk: number, budgetBytes = DEFAULT_SCORE_BUDGET_BYTES): number {
  return Math.max(1, Math.min(nq, Math.floor(budgetBytes / (4 * Math.max(1, nk)))));
}

/**
 * Multi-head softmax attention on token layouts (the one attention kernel of the library: VAE, U-Net,
 * time-aware encoder, text towers): q [B, Nq, H·d], k [B, Nk, H·d], v [B, Nk, H·dv] with
 * heads split contiguously along the channel axis (einops `(h d)`) → [B, Nq, H·dv].
 *
 * Computed per batch row and head as 2-D matMuls with kᵀ materialised once per head (on wasm this runs at
 * ~20 GFLOP/s, against ~2 for one batched 3-D matMul and ~4 for 2-D matMuls with `transposeB`; measured by
 * packages/unet/bench/attention.ts), over query chunks bounded by
 * {@link MultiHeadAttentionOptions.scoreBudgetBytes}. Softmax runs in float32 over the key axis, after the
 * optional additive {@link MultiHeadAttentionOptions.mask}.
 */
export function multiHeadAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, heads: number, opts: MultiHeadAttentionOptions = {}): tf.Tensor3D {
  const [b, nq, cq] = q.shape;
  const [bk, nk, ck] = k.shape;
  const [bv, nv, cv] = v.shape;
  if (bk !== b || bv !== b) throw new Error(`attention: batch sizes differ (q ${b}, k ${bk}, v ${bv})`);
  if (nv !== nk) throw new Error(`attention: k has ${nk} tokens but v has ${nv}`);
  if (cq !== ck) throw new Error(`attention: q width ${cq} ≠ k width ${ck}`);
  if (cq % heads !== 0 || cv % heads !== 0) throw new Error(`attention: widths ${cq}/${cv} do not split into ${heads} heads`);
  const mask = opts.mask;
  if (mask && ((mask.shape[0] !== nq && mask.shape[0] !== 1) || mask.shape[1] !== nk)) {
    throw new Error(`attention: mask shape [${mask.shape}] does not broadcast to the scores [${nq}, ${nk}]`);
  }
  const d = cq / heads;
  const scale = opts.scale ?? 1 / Math.sqrt(d);
  const rows = attentionChunkRows(nq, nk, opts.scoreBudgetBytes);
  const perBatch: tf.Tensor2D[] = [];
  for (let bi = 0; bi < b; bi++) {
    const perHead: tf.Tensor2D[] = [];
    // [Nq, H·d] etc. for this batch row; split into heads along channels.
    const [qs, ks, vs] = tf.tidy(() => {
      const qb = tf.reshape(tf.slice(q, [bi, 0, 0], [1, nq, cq]), [nq, cq]);
      const kb = tf.reshape(tf.slice(k, [bi, 0, 0], [1, nk, ck]), [nk, ck]);
      const vb = tf.reshape(tf.slice(v, [bi, 0, 0], [1, nk, cv]), [nk, cv]);
      // Scaling q (Nq·d products) instead of the scores (Nq·Nk) is the same up to rounding.
      // kᵀ per head [d, Nk], transposed once here: on wasm `matMul(q, kᵀ)` is ~6× faster than `transposeB`.
      return [tf.split(tf.mul(qb, scale), heads, 1), tf.split(tf.transpose(kb), heads, 0), tf.split(vb, heads, 1)] as [tf.Tensor2D[], tf.Tensor2D[], tf.Tensor2D[]];
    });
    for (let h = 0; h < heads; h++) {
      const chunks: tf.Tensor2D[] = [];
      for (let r0 = 0; r0 < nq; r0 += rows) {
        const n = Math.min(rows, nq - r0);
        // Own tidy per chunk: the [n, Nk] scores are freed before the next chunk is computed.
        chunks.push(
          tf.tidy(() => {
            const qc = n === nq ? qs[h]! : tf.slice(qs[h]!, [r0, 0], [n, d]);
            let scores = tf.matMul(qc, ks[h]!);
            if (mask) scores = tf.add(scores, mask.shape[0] === 1 || n === nq ? mask : tf.slice(mask, [r0, 0], [n, nk]));
            return tf.matMul(tf.softmax(scores), vs[h]!);
          }),
        );
      }
      perHead.push(chunks.length === 1 ? chunks[0]! : tf.tidy(() => tf.concat(chunks, 0)));
      if (chunks.length > 1) tf.dispose(chunks);
    }
    tf.dispose([...qs, ...ks, ...vs]);
    perBatch.push(heads === 1 ? perHead[0]! : tf.tidy(() => tf.concat(perHead, 1)));
    if (heads > 1) tf.dispose(perHead);
  }
  const out = tf.tidy(() => tf.stack(perBatch) as tf.Tensor3D);
  tf.dispose(perBatch);
  return out;
}
