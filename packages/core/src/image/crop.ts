import * as tf from '@tensorflow/tfjs-core';

/** Python 3 `round()`: halves go to the even neighbour. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * torchvision `CenterCrop` offsets for an image at least as large as the crop:
 * `int(round((size − crop) / 2))` with Python rounding.
 */
export function centerCropOffsets(h: number, w: number, cropH: number, cropW: number): { top: number; left: number } {
  if (cropH > h || cropW > w) throw new Error(`center crop ${cropH}×${cropW} is larger than the image ${h}×${w}`);
  return { top: roundHalfEven((h - cropH) / 2), left: roundHalfEven((w - cropW) / 2) };
}

/** Center crop of an NHWC tensor (torchvision `CenterCrop` rounding). */
export function centerCrop(x: tf.Tensor4D, cropH: number, cropW: number): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  const { top, left } = centerCropOffsets(h, w, cropH, cropW);
  return tf.slice(x, [0, top, left, 0], [b, cropH, cropW, c]);
}

/**
 * torchvision `Resize(size)` with an int: the shorter side becomes `size`, the longer
 * `int(size · long / short)`. Returns the target [height, width].
 */
export function resizeShorterSide(h: number, w: number, size: number): [number, number] {
  if (h <= w) return [size, Math.trunc((size * w) / h)];
  return [Math.trunc((size * h) / w), size];
}
