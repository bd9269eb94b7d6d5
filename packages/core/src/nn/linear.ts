import * as tf from '@tensorflow/tfjs-core';
import { type WeightView } from '../weights/weightView.js';

/** A linear layer `y = x·Wᵀ + b` with W stored `[out, in]` in the file, kept `[in, out]` here. */
export interface Linear {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly weight: tf.Tensor2D;
  readonly bias: tf.Tensor1D | undefined;
}

export function loadLinear(view: WeightView, name: string, inFeatures: number, outFeatures: number, bias = true): Linear {
  return {
    inFeatures,
    outFeatures,
    weight: view.linear(`${name}.weight`, [outFeatures, inFeatures]),
    bias: bias ? (view.get(`${name}.bias`, [outFeatures]) as tf.Tensor1D) : undefined,
  };
}

/** Applies the layer over the last axis of `x` (any rank ≥ 2), as one 2-D matMul. */
export function linear(l: Linear, x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const lead = x.shape.slice(0, -1);
    const flat = tf.reshape(x, [-1, l.inFeatures]) as tf.Tensor2D;
    const y = l.bias ? tf.fused.matMul({ a: flat, b: l.weight, bias: l.bias }) : tf.matMul(flat, l.weight);
    return tf.reshape(y, [...lead, l.outFeatures]);
  });
}

export function disposeLinear(l: Linear): void {
  l.weight.dispose();
  l.bias?.dispose();
}
