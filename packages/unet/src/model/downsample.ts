import type * as tf from '@tensorflow/tfjs-core';
import { type Conv2d, type Ops, type WeightView, loadConv2d, tfjsOps } from '@stablesr/core';

/**
 * `Downsample` of openaimodel.py: `op` = 3×3 conv stride 2 padding 1 (`conv_resample`), else 2×2 average
 * pooling. An odd size H becomes ⌈H/2⌉ with the conv.
 */
export interface Downsample {
  readonly kind: 'Downsample';
  readonly channels: number;
  readonly outChannels: number;
  readonly op: Conv2d | undefined;
}

export function loadDownsample(view: WeightView, channels: number, useConv: boolean, outChannels = channels): Downsample {
  if (!useConv && outChannels !== channels) throw new Error(`Downsample ${view.prefix}: pooling cannot change channels ${channels} → ${outChannels}`);
  return { kind: 'Downsample', channels, outChannels, op: useConv ? loadConv2d(view, 'op', channels, outChannels, 3, { stride: 2, padding: 1 }) : undefined };
}

export function downsampleForwardOps<T>(ops: Ops<T>, d: Downsample, x: T): T {
  return d.op ? ops.conv2d(d.op, x) : ops.avgPool2x(x);
}

/** {@link downsampleForwardOps} on TensorFlow.js (NHWC tensors). */
export function downsampleForward(d: Downsample, x: tf.Tensor4D): tf.Tensor4D {
  return downsampleForwardOps(tfjsOps, d, x) as tf.Tensor4D;
}
