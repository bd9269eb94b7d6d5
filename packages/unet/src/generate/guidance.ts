import * as tf from '@tensorflow/tfjs-core';
import { type DenoiseFn, type SamplerPosition } from '../samplers/types.js';

/** Turns prompts into the cross-attention context [N, tokens, width]; the text package's `TextConditioner` is one. */
export interface PromptEncoder {
  encode(prompts: readonly string[]): tf.Tensor3D | Promise<tf.Tensor3D>;
}

/**
 * The conditioned network: NHWC latents, one timestep per batch row, context [B, tokens, width] → raw
 * output (ε or v), NHWC. E.g. `(x, t, c) => unetForward(unet, x, t, c)`.
 */
export type ConditionedUNet = (x: tf.Tensor4D, timesteps: number[], context: tf.Tensor3D) => tf.Tensor4D | Promise<tf.Tensor4D>;

/** Sees the raw network output of each evaluation (with guidance: the 2B batch, unconditional rows first). Do not dispose it. */
export type RawOutputCallback = (raw: tf.Tensor4D, at: SamplerPosition) => void | Promise<void>;

/**
 * Classifier-free guidance (Ho & Salimans 2022) as LDM's `p_sample_ddim`:
 * `[m_u, m_c] = unet(cat[x, x], cat[t, t], cat[uncond, cond])`, `m = m_u + scale·(m_c − m_u)`.
 * With `scale` = 1 or no `uncond` the network runs once on `cond` (no guidance batch), as the reference.
 * The contexts stay owned by the caller.
 */
export function guidedDenoiser(unet: ConditionedUNet, cond: tf.Tensor3D, uncond: tf.Tensor3D | undefined, scale: number, onRaw?: RawOutputCallback): DenoiseFn {
  if (!Number.isFinite(scale)) throw new Error(`guidance scale must be a finite number, got ${scale}`);
  if (uncond && (uncond.shape[0] !== cond.shape[0] || uncond.shape[2] !== cond.shape[2])) {
    throw new Error(`unconditional context [${uncond.shape}] does not match the conditional context [${cond.shape}]`);
  }
  return async (x, at) => {
    const B = x.shape[0];
    if (cond.shape[0] !== B) throw new Error(`context has ${cond.shape[0]} rows for a latent batch of ${B}`);
    if (!uncond || scale === 1) {
      const m = await unet(x, new Array<number>(B).fill(at.t), cond);
      if (onRaw) await onRaw(m, at);
      return m;
    }
    const x2 = tf.concat([x, x], 0);
    const c2 = tf.concat([uncond, cond], 0);
    let raw: tf.Tensor4D;
    try {
      raw = await unet(x2, new Array<number>(2 * B).fill(at.t), c2);
    } finally {
      tf.dispose([x2, c2]);
    }
    try {
      if (onRaw) await onRaw(raw, at);
      return tf.tidy(() => {
        const [mu, mc] = tf.split(raw, 2, 0) as [tf.Tensor4D, tf.Tensor4D];
        return tf.add(mu, tf.mul(tf.sub(mc, mu), scale)) as tf.Tensor4D;
      });
    } finally {
      raw.dispose();
    }
  };
}
