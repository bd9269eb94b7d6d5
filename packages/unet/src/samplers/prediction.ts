import * as tf from '@tensorflow/tfjs-core';
import { type Parameterization } from './types.js';

/** Float32 scalar, as the reference's float32 buffers would hold it. */
export function f32(v: number): tf.Scalar {
  return tf.scalar(Math.fround(v));
}

/**
 * ε and x₀ from a raw model output `m` at ᾱ = `a` (VP process x = √a·x₀ + √(1−a)·ε).
 * eps: ε = m, x₀ = (x − √(1−a)·ε)/√a (DDIM, Song et al. 2021, eq. 12).
 * v: ε = √a·m + √(1−a)·x and x₀ = √a·x − √(1−a)·m (Salimans & Ho 2022, sec. 4). The two v forms of x₀
 * agree in exact arithmetic; `vX0: 'viaEps'` computes it as (x − √(1−a)·ε)/√a like StableSR's DDIM,
 * `direct` as `predict_start_from_z_and_v` like upstream SD's DDIM (they differ in float32 rounding).
 * Call inside `tf.tidy`.
 */
export function epsAndX0(x: tf.Tensor4D, m: tf.Tensor4D, a: number, parameterization: Parameterization, vX0: 'viaEps' | 'direct' = 'direct'): { eps: tf.Tensor4D; x0: tf.Tensor4D } {
  if (!(a > 0 && a <= 1)) throw new Error(`alpha_cumprod ${a} is outside (0, 1]`);
  const sa = f32(Math.sqrt(a));
  const s1 = f32(Math.sqrt(1 - a));
  if (parameterization === 'eps') {
    return { eps: m, x0: tf.div(tf.sub(x, tf.mul(s1, m)), sa) };
  }
  if (parameterization !== 'v') throw new Error(`unknown parameterization "${String(parameterization)}" (available: eps, v)`);
  const eps = tf.add(tf.mul(sa, m), tf.mul(s1, x));
  const x0 = vX0 === 'viaEps' ? tf.div(tf.sub(x, tf.mul(s1, eps)), sa) : tf.sub(tf.mul(sa, x), tf.mul(s1, m));
  return { eps: eps as tf.Tensor4D, x0: x0 as tf.Tensor4D };
}
