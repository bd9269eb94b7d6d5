import * as tf from '@tensorflow/tfjs-core';
import { type Conv2d, type GroupNorm, conv2d, groupNorm, silu } from '@stablesr/core';
import { type AttnBlock, attnBlock } from './attnBlock.js';

/**
 * The handful of operations the autoencoder is made of, over an abstract feature map `F`.
 * Every forward function of this package is written once against this interface:
 * - with {@link tensorOps} (`F` = NHWC `tf.Tensor4D`) it is the plain, untiled forward;
 * - with the tracer of `tiled/program.ts` it records a program that the tiled executor replays
 *   tile by tile, syncing GroupNorm statistics over the whole image.
 * So the tiled and untiled paths cannot drift apart.
 */
export interface FeatureOps<F> {
  /** Stride-1 convolution with the conv's own symmetric zero padding ("same" size). */
  conv(c: Conv2d, x: F): F;
  /** GroupNorm with statistics of the whole feature map (per batch row and group). */
  groupNorm(n: GroupNorm, x: F): F;
  silu(x: F): F;
  leakyRelu(x: F, alpha: number): F;
  add(a: F, b: F): F;
  /** a + s·b */
  addScaled(a: F, b: F, s: number): F;
  scale(x: F, s: number): F;
  /** Concatenation on channels. */
  concat(xs: readonly F[]): F;
  /** The reference `Downsample`: zero-pad right and bottom by 1, then the conv (3×3, stride 2, no padding). */
  downsample(c: Conv2d, x: F): F;
  /** Nearest-neighbour ×2 (`F.interpolate(scale_factor=2, mode="nearest")`). */
  upsampleNearest2x(x: F): F;
  /** A whole-image attention block (`AttnBlock`): needs every position at once. */
  attention(a: AttnBlock, x: F): F;
  /** Frees a value no longer needed (dispose for tensors); never called on inputs or returned values. */
  release(x: F): void;
  /** Scope for intermediate values (tf.tidy for tensors). */
  scope<T extends F | F[] | { [k: string]: F | F[] }>(fn: () => T): T;
}

/** The untiled implementation over NHWC tensors. */
export const tensorOps: FeatureOps<tf.Tensor4D> = {
  conv: (c, x) => conv2d(c, x),
  groupNorm: (n, x) => groupNorm(n, x),
  silu: (x) => silu(x),
  leakyRelu: (x, alpha) => tf.leakyRelu(x, alpha),
  add: (a, b) => tf.add(a, b),
  addScaled: (a, b, s) => tf.tidy(() => tf.add(a, tf.mul(b, s))),
  scale: (x, s) => tf.mul(x, s),
  concat: (xs) => tf.concat(xs as tf.Tensor4D[], 3),
  downsample: (c, x) => tf.tidy(() => conv2d({ ...c, padding: 0 }, tf.pad(x, [[0, 0], [0, 1], [0, 1], [0, 0]]))),
  upsampleNearest2x: (x) => tf.image.resizeNearestNeighbor(x, [x.shape[1] * 2, x.shape[2] * 2], false, false),
  attention: (a, x) => attnBlock(a, x),
  release: (x) => x.dispose(),
  scope: (fn) => tf.tidy(fn as () => tf.TensorContainer) as ReturnType<typeof fn>,
};
