import * as tf from '@tensorflow/tfjs-core';
import { type WindowEvaluator } from '@stablesr/core';
import { type SRModels, type StructCond, disposeStructCond } from './srModels.js';

/** Text conditioning of the denoiser: context rows per batch row, optional negative prompt guidance. */
export interface Conditioning {
  /** `[B, 77, C]` embedding of the prompt ("" by default). */
  context: tf.Tensor3D;
  /** `[B, 77, C]` embedding of the negative prompt; guidance runs only when given and the scale ≠ 1. */
  uncondContext?: tf.Tensor3D;
  guidanceScale?: number;
}


function repeatRows(sc: StructCond, times: number): Map<number, tf.Tensor4D> {
  const out = new Map<number, tf.Tensor4D>();
  for (const [w, f] of sc) out.set(w, tf.concat(Array<tf.Tensor4D>(times).fill(f), 0));
  return out;
}

/**
 * The network evaluation of StableSR's samplers for one window (`p_mean_variance`, `p_sample_ddim_sr_t` and
 * their canvas variants): the time-aware encoder sees the **LR latent** (not the noised x) at the network
 * timestep `t`, recomputed every call; with a negative prompt and scale s ≠ 1 the U-Net runs on
 * `cat[x, x]` with `cat[uncond, cond]` and `e = e_u + s·(e_c − e_u)`.
 * `onRaw` receives the raw U-Net output (2B rows when guided, unconditional first) before mixing; it is
 * disposed after the callback returns.
 */
export function windowEvaluator(models: SRModels, cond: Conditioning, onRaw?: (raw: tf.Tensor4D) => void): WindowEvaluator {
  const scale = cond.guidanceScale ?? 1;
  const guided = cond.uncondContext !== undefined && scale !== 1;
  return async (x, lrLatent, t) => {
    const b = x.shape[0];
    if (cond.context.shape[0] < b) throw new Error(`context has ${cond.context.shape[0]} rows for a latent batch of ${b}`);
    const ts = Array<number>(b).fill(t);
    const sc = await models.structCond(lrLatent, ts);
    try {
      if (!guided) {
        const ctx = cond.context.shape[0] === b ? cond.context : tf.slice(cond.context, 0, b);
        try {
          const out = await models.unet(x, ts, ctx, sc);
          onRaw?.(out);
          return out;
        } finally {
          if (ctx !== cond.context) ctx.dispose();
        }
      }
      const uncond = cond.uncondContext!;
      if (uncond.shape[0] < b) throw new Error(`negative-prompt context has ${uncond.shape[0]} rows for a latent batch of ${b}`);
      // Rows of the encoder output are independent, so the duplicated batch reuses one encoder pass.
      const sc2 = repeatRows(sc, 2);
      const x2 = tf.concat([x, x], 0);
      const ctx2 = tf.tidy(() => tf.concat([tf.slice(uncond, 0, b), tf.slice(cond.context, 0, b)], 0) as tf.Tensor3D);
      try {
        const raw = await models.unet(x2, [...ts, ...ts], ctx2, sc2);
        try {
          onRaw?.(raw);
          return tf.tidy(() => {
            const [eu, ec] = tf.split(raw, 2, 0) as [tf.Tensor4D, tf.Tensor4D];
            return tf.add(eu, tf.mul(tf.sub(ec, eu), scale)) as tf.Tensor4D;
          });
        } finally {
          raw.dispose();
        }
      } finally {
        tf.dispose([x2, ctx2]);
        disposeStructCond(sc2);
      }
    } finally {
      disposeStructCond(sc);
    }
  };
}
