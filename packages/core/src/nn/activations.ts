import * as tf from '@tensorflow/tfjs-core';

/**
 * Below this the sigmoid inside {@link silu} is evaluated at the floor: σ(−30) = 9.4e-14, so |x·σ(x)| changes by
 * less than 3e-12 there. Without it σ(x) and the sigmoid gradient σ(1 − σ)·dy reach float32 subnormals for x below
 * about −87, and WebAssembly computes with subnormals in slow microcode: a trained IR-SDE network's backward pass took
 * 6.3 s instead of 2.5 s per batch on tfjs-wasm (measured; the fresh network had no such activations).
 */
const SILU_SIGMOID_FLOOR = -30;

/** SiLU / swish: x·σ(x). */
export function silu<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(tf.maximum(x, SILU_SIGMOID_FLOOR))));
}

/** Exact GELU: x·Φ(x) = 0.5·x·(1 + erf(x/√2)) (PyTorch's default, not the tanh approximation). */
export function gelu<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)));
}

/** QuickGELU of OpenAI CLIP: x·σ(1.702x). */
export function quickGelu<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(tf.mul(x, 1.702))));
}
