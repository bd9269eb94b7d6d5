import * as tf from '@tensorflow/tfjs-core';

/**
 * Sinusoidal timestep embedding of `ldm/modules/diffusionmodules/util.py` `timestep_embedding`:
 * `freqs_j = exp(−ln(maxPeriod)·j/half)`, `emb = [cos(t·freqs), sin(t·freqs)]` (**cos first**), a zero column
 * appended for odd `dim`. Every step rounds to float32 as the reference computes it in float32, so large `t`
 * (phase up to ~1000 rad) gets the same arguments, not merely close ones. Returns [B, dim].
 */
export function timestepEmbedding(timesteps: ArrayLike<number>, dim: number, maxPeriod = 10000): tf.Tensor2D {
  const half = Math.floor(dim / 2);
  const f = Math.fround;
  const negLog = f(-Math.log(maxPeriod));
  const freqs = new Float64Array(half);
  for (let j = 0; j < half; j++) freqs[j] = f(Math.exp(f(f(negLog * j) / half)));
  const b = timesteps.length;
  const out = new Float32Array(b * dim);
  for (let i = 0; i < b; i++) {
    const t = f(timesteps[i]!);
    for (let j = 0; j < half; j++) {
      const arg = f(t * freqs[j]!);
      out[i * dim + j] = Math.cos(arg);
      out[i * dim + half + j] = Math.sin(arg);
    }
  }
  return tf.tensor2d(out, [b, dim]);
}

/**
 * {@link timestepEmbedding} for a batch of `b` rows: one timestep per row, or a single one used for every row
 * (`what` names the network in the error otherwise).
 */
export function batchTimestepEmbedding(timesteps: ArrayLike<number>, b: number, dim: number, what: string): tf.Tensor2D {
  if (timesteps.length !== b && timesteps.length !== 1) throw new Error(`${what}: ${timesteps.length} timesteps for a batch of ${b}`);
  return timestepEmbedding(timesteps.length === b ? timesteps : Array.from({ length: b }, () => timesteps[0]!), dim);
}
