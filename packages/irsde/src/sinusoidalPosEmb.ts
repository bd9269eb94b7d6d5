import * as tf from '@tensorflow/tfjs-core';

/**
 * `SinusoidalPosEmb(dim)` of `module_util.py`: `freqs_j = exp(−j·ln(10000)/(half − 1))`, `emb = [sin(t·freqs),
 * cos(t·freqs)]` (**sin first**, and half − 1 in the denominator, unlike the LDM U-Net's embedding). Host math,
 * rounded to float32 at every step as the reference computes it. Returns [B, dim] for B timesteps.
 */
export function sinusoidalPosEmb(timesteps: ArrayLike<number>, dim: number): tf.Tensor2D {
  const half = Math.floor(dim / 2);
  if (half < 2) throw new Error(`SinusoidalPosEmb: dim must be at least 4, got ${dim}`);
  const f = Math.fround;
  const step = f(-(Math.log(10000) / (half - 1)));
  const freqs = Float32Array.from({ length: half }, (_, j) => f(Math.exp(f(j * step))));
  const b = timesteps.length;
  const out = new Float32Array(b * 2 * half);
  for (let i = 0; i < b; i++) {
    const t = f(timesteps[i]!);
    for (let j = 0; j < half; j++) {
      const arg = f(t * freqs[j]!);
      out[i * 2 * half + j] = Math.sin(arg);
      out[i * 2 * half + half + j] = Math.cos(arg);
    }
  }
  return tf.tensor2d(out, [b, 2 * half]);
}
