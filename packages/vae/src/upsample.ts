import { type Conv2d, type WeightView, loadConv2d } from '@stablesr/core';
import { type FeatureOps } from './featureOps.js';

/** `Upsample` with `resamp_with_conv`: nearest ×2, then a 3×3 conv (padding 1). */
export interface Upsample {
  readonly conv: Conv2d;
}

export function loadUpsample(view: WeightView, channels: number): Upsample {
  return { conv: loadConv2d(view, 'conv', channels, channels, 3) };
}

export function upsampleForward<F>(ops: FeatureOps<F>, u: Upsample, x: F): F {
  return ops.scope(() => ops.conv(u.conv, ops.upsampleNearest2x(x)));
}
