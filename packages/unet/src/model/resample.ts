import type * as tf from '@tensorflow/tfjs-core';
import { tfjsOps } from '@stablesr/core';

/** `F.interpolate(x, scale_factor=2, mode="nearest")` on NHWC: every pixel repeated 2×2 (`Ops.upsampleNearest2x`). */
export function upsampleNearest(x: tf.Tensor4D): tf.Tensor4D {
  return tfjsOps.upsampleNearest2x(x) as tf.Tensor4D;
}

/** `avg_pool_nd(kernel_size=2, stride=2)` on NHWC (PyTorch floors odd sizes; {@link Ops.avgPool2x}). */
export function downsamplePool(x: tf.Tensor4D): tf.Tensor4D {
  return tfjsOps.avgPool2x(x) as tf.Tensor4D;
}
