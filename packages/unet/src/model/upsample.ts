import type * as tf from '@tensorflow/tfjs-core';
import { type Conv2d, type Ops, type WeightView, loadConv2d, tfjsOps } from '@stablesr/core';

/** `Upsample` of openaimodel.py: nearest ×2, then `conv` (3×3, padding 1) when `conv_resample`. */
export interface Upsample {
  readonly kind: 'Upsample';
  readonly channels: number;
  readonly outChannels: number;
  readonly conv: Conv2d | undefined;
}

export function loadUpsample(view: WeightView, channels: number, useConv: boolean, outChannels = channels): Upsample {
  if (!useConv && outChannels !== channels) throw new Error(`Upsample ${view.prefix}: without conv it cannot change channels ${channels} → ${outChannels}`);
  return { kind: 'Upsample', channels, outChannels, conv: useConv ? loadConv2d(view, 'conv', channels, outChannels, 3) : undefined };
}

export function upsampleForwardOps<T>(ops: Ops<T>, u: Upsample, x: T): T {
  return ops.scope(() => {
    const up = ops.upsampleNearest2x(x);
    return u.conv ? ops.conv2d(u.conv, up) : up;
  });
}

/** {@link upsampleForwardOps} on TensorFlow.js (NHWC tensors). */
export function upsampleForward(u: Upsample, x: tf.Tensor4D): tf.Tensor4D {
  return upsampleForwardOps(tfjsOps, u, x) as tf.Tensor4D;
}
