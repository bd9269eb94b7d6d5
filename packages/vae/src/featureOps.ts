import type * as tf from '@tensorflow/tfjs-core';
import { type Conv2d, type GroupNorm, type Ops, tfjsOps } from '@stablesr/core';
import { type AttnBlock, attnBlockForward } from './attnBlock.js';

/**
 * The handful of operations the autoencoder is made of, over an abstract feature map `F` (logical NHWC).
 * Every forward function of this package is written once against this interface:
 * - {@link featureOpsFrom} implements it on any core {@link Ops} engine: on {@link tfjsOps} ({@link tensorOps})
 *   it is the plain, untiled eager forward; on the ONNX engine it records the graph;
 * - the tracer of `tiled/program.ts` records a program that the tiled executor replays tile by tile,
 *   syncing GroupNorm statistics over the whole image.
 * So the tiled and untiled paths, and the engines, cannot drift apart.
 *
 * It stays narrower than `Ops` on purpose: every op here is one the tiled executor can replay on a tile
 * (`attention` is the one whole-map exception, run untiled on its level).
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
  /**
   * Scope for intermediate values (tf.tidy for tensors). With `module`, the engine makes that module's
   * weights available for the duration ({@link Ops.scope}: the tfjs engine uploads host-held weights).
   */
  scope<R extends F | readonly F[]>(fn: () => R, module?: object): R;
}

/**
 * {@link FeatureOps} on a core {@link Ops} engine. Every method is one op of the engine, or a few:
 * the reference `Downsample` is one conv with explicit [[0, 1], [0, 1]] zero padding and stride 2, and
 * `AttnBlock` is {@link attnBlockForward} (GroupNorm, 1×1 convs, single-head attention over tokens).
 */
export function featureOpsFrom<T>(ops: Ops<T>): FeatureOps<T> {
  return {
    conv: (c, x) => ops.conv2d(c, x),
    groupNorm: (n, x) => ops.groupNorm(n, x),
    silu: (x) => ops.silu(x),
    leakyRelu: (x, alpha) => ops.leakyRelu(x, alpha),
    add: (a, b) => ops.add(a, b),
    addScaled: (a, b, s) => ops.scope(() => ops.add(a, ops.scale(b, s))),
    scale: (x, s) => ops.scale(x, s),
    concat: (xs) => ops.concat(xs),
    downsample: (c, x) => ops.conv2d({ ...c, stride: 2, padding: [[0, 1], [0, 1]] }, x),
    upsampleNearest2x: (x) => ops.upsampleNearest2x(x),
    attention: (a, x) => attnBlockForward(ops, a, x),
    release: (x) => ops.release(x),
    scope: (fn, module) => ops.scope(fn, module),
  };
}

/**
 * The untiled eager implementation over NHWC tensors: {@link featureOpsFrom} on {@link tfjsOps}
 * (feature maps are rank-4 there, hence the narrower type).
 */
export const tensorOps: FeatureOps<tf.Tensor4D> = featureOpsFrom(tfjsOps as unknown as Ops<tf.Tensor4D>);
