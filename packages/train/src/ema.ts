import * as tf from '@tensorflow/tfjs-core';

/**
 * One exponential-moving-average update of weights (`LitEma.forward`: `shadow −= (1 − decay)·(shadow − param)`),
 * so `shadow' = decay·shadow + (1 − decay)·param`. Pure: returns new tensors (the caller's), changes nothing.
 * Keys of `shadow` without a parameter are an error.
 */
export function emaUpdate(shadow: ReadonlyMap<string, tf.Tensor>, params: ReadonlyMap<string, tf.Tensor>, decay: number): Map<string, tf.Tensor> {
  if (!(decay >= 0 && decay <= 1)) throw new Error(`EMA: decay must be in [0, 1], got ${decay}`);
  const out = new Map<string, tf.Tensor>();
  try {
    for (const [key, s] of shadow) {
      const p = params.get(key);
      if (!p) throw new Error(`EMA: no parameter for ${key}`);
      out.set(key, tf.tidy(() => tf.sub(s, tf.mul(tf.sub(s, p), 1 - decay))));
    }
  } catch (e) {
    tf.dispose([...out.values()]);
    throw e;
  }
  return out;
}
