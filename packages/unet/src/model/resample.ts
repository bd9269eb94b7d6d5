import * as tf from '@tensorflow/tfjs-core';

/** `F.interpolate(x, scale_factor=2, mode="nearest")` on NHWC: every pixel repeated 2×2. */
export function upsampleNearest(x: tf.Tensor4D): tf.Tensor4D {
  const [, h, w] = x.shape;
  return tf.image.resizeNearestNeighbor(x, [2 * h, 2 * w]);
}

/** `avg_pool_nd(kernel_size=2, stride=2)` on NHWC (PyTorch floors odd sizes, as 'valid' pooling does). */
export function downsamplePool(x: tf.Tensor4D): tf.Tensor4D {
  return tf.avgPool(x, 2, 2, 'valid');
}
