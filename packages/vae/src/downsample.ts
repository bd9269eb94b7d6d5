import { type Conv2d, type WeightView, loadConv2d } from '@stablesr/core';

/**
 * `Downsample` with `resamp_with_conv`: zero-pad right and bottom by one pixel, then a 3×3 conv with
 * stride 2 and no padding (the pad itself lives in {@link FeatureOps.downsample}).
 */
export interface Downsample {
  readonly conv: Conv2d;
}

export function loadDownsample(view: WeightView, channels: number): Downsample {
  return { conv: loadConv2d(view, 'conv', channels, channels, 3, { stride: 2, padding: 0 }) };
}
