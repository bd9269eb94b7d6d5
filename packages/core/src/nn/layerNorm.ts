import * as tf from '@tensorflow/tfjs-core';
import { type WeightView } from '../weights/weightView.js';

/** LayerNorm over the last axis with affine parameters. */
export interface LayerNorm {
  readonly dim: number;
  readonly eps: number;
  readonly gamma: tf.Tensor1D;
  readonly beta: tf.Tensor1D;
}

export function loadLayerNorm(view: WeightView, name: string, dim: number, eps = 1e-5): LayerNorm {
  return { dim, eps, gamma: view.get(`${name}.weight`, [dim]) as tf.Tensor1D, beta: view.get(`${name}.bias`, [dim]) as tf.Tensor1D };
}

export function layerNorm(n: LayerNorm, x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const axis = x.rank - 1;
    const mean = tf.mean(x, axis, true);
    const centered = tf.sub(x, mean);
    const variance = tf.mean(tf.square(centered), axis, true);
    return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, n.eps))), n.gamma), n.beta);
  });
}

export function disposeLayerNorm(n: LayerNorm): void {
  n.gamma.dispose();
  n.beta.dispose();
}
