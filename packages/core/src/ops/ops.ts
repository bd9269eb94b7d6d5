import type * as tf from '@tensorflow/tfjs-core';
import { type Conv2d } from '../nn/conv2d.js';
import { type GroupNorm } from '../nn/groupNorm.js';
import { type LayerNorm } from '../nn/layerNorm.js';
import { type Linear } from '../nn/linear.js';

/**
 * The operations every network of the library is written against, over an abstract value `T`.
 * A module's forward is written once as `forward<T>(ops: Ops<T>, module, ...inputs: T[])`:
 * - {@link tfjsOps} evaluates it eagerly on TensorFlow.js (`T` = `tf.Tensor`);
 * - the ONNX implementation (`onnxOps`) records one graph node (or a few) per call, and ONNX Runtime runs the graph.
 *
 * Values have a **logical** layout that module code sees through {@link Ops.shape}: feature maps `[B, H, W, C]`,
 * token sequences `[B, N, C]`, vectors `[B, C]`. An engine may store them otherwise (the ONNX graph keeps maps
 * NCHW, as ONNX Runtime's convolutions want); module code never depends on the physical layout, which is why
 * there is no general reshape or transpose here: moving between maps and tokens is {@link Ops.toTokens} /
 * {@link Ops.fromTokens}, and the axis every channel-wise op works on is the last logical one.
 *
 * Convolution, GroupNorm, LayerNorm and attention are single ops so that each engine picks its best kernel.
 * Weights are the modules' own (`Conv2d`, `GroupNorm`, `Linear`, `LayerNorm` objects, or a raw weight tensor
 * passed to {@link Ops.weight}); an engine decides how they reach the kernels (the tfjs engine uploads host-held
 * weights around each {@link Ops.scope} that names its module; the ONNX engine turns them into initializers).
 */
export interface Ops<T> {
  /** Which engine evaluates (for messages and for the rare engine-specific bound, never for numerics). */
  readonly engine: 'tfjs' | 'onnx';

  /** Logical shape (see above). Static on every engine. */
  shape(x: T): readonly number[];

  /** A weight tensor of a module as a value (position embeddings, per-channel constants of tokens / vectors). */
  weight(t: tf.Tensor): T;

  // Feature maps [B, H, W, C].
  /** The conv with its own stride, padding (symmetric or explicit [[top, bottom], [left, right]]) and dilation. */
  conv2d(c: Conv2d, x: T): T;
  /** GroupNorm with statistics over each (batch row, group), then the affine parameters. */
  groupNorm(n: GroupNorm, x: T): T;
  /** Nearest-neighbour ×2 (`F.interpolate(scale_factor=2, mode="nearest")`). */
  upsampleNearest2x(x: T): T;
  /** Nearest-neighbour resize of a map to `height × width` (PyTorch `mode="nearest"`). */
  resizeNearest(x: T, height: number, width: number): T;
  /** 2×2 average pooling, stride 2, odd sizes floored (`avg_pool2d(2)`). */
  avgPool2x(x: T): T;
  /**
   * Reflection padding (`F.pad(mode="reflect")`, the edge pixel not repeated) by [[top, bottom], [left, right]]
   * pixels; each amount must be smaller than its side.
   */
  reflectPad(x: T, pad: readonly [readonly [number, number], readonly [number, number]]): T;
  /**
   * Pixel unshuffle: each r×r block becomes r²·C channels at one position, channel `(i·r + j)·C + c` holding
   * pixel (i, j) of the block (TF/ONNX `SpaceToDepth` order). Height and width must be multiples of r.
   */
  spaceToDepth(x: T, r: number): T;
  /** The inverse of {@link Ops.spaceToDepth} (ONNX `DepthToSpace` in DCR mode): r²·C channels → r×r blocks of C. */
  depthToSpace(x: T, r: number): T;
  /** The window rows [top, top + height) × columns [left, left + width) of a map. */
  crop(x: T, top: number, left: number, height: number, width: number): T;
  /** [B, H, W, C] → [B, H·W, C], positions row-major. */
  toTokens(x: T): T;
  /** [B, H·W, C] → [B, H, W, C]. */
  fromTokens(t: T, height: number, width: number): T;

  // Tokens [B, N, C] and vectors [B, C].
  /** `x·Wᵀ + b` over the last axis. */
  linear(l: Linear, x: T): T;
  /** LayerNorm over the last axis (the channels of a map, of tokens, of vectors). */
  layerNorm(n: LayerNorm, x: T): T;
  /**
   * Multi-head softmax attention: q [B, Nq, H·d], k [B, Nk, H·d], v [B, Nk, H·dv] with heads split contiguously
   * along channels (einops `(h d)`) → [B, Nq, H·dv]. Softmax in float32 over keys of `q·kᵀ·scale (+ mask)`.
   */
  attention(q: T, k: T, v: T, o: AttentionOptions): T;
  /**
   * Linear attention (`LinearAttention` of the IR-SDE U-Net): q [B, N, H·d], k [B, N, H·d], v [B, N, H·e], heads
   * split contiguously along channels; per head q is softmaxed over its d channels, k over the N positions, and
   * `out = (q·scale)·(kᵀ·v)` → [B, N, H·e]. One op so that no engine materialises more than the d×e context.
   */
  linearAttention(q: T, k: T, v: T, o: LinearAttentionOptions): T;
  /** Rows of an embedding table [V, C] (a module weight) for integer ids [B, N] → [B, N, C]. */
  embedding(table: tf.Tensor2D, ids: T): T;

  // Elementwise (same shapes, or a vector [B, C] / weight [C] broadcast over a map's or tokens' positions).
  add(a: T, b: T): T;
  sub(a: T, b: T): T;
  mul(a: T, b: T): T;
  /** x·s */
  scale(x: T, s: number): T;
  /** x + s */
  addScalar(x: T, s: number): T;
  /** x [B, …, C] + v [B, C] broadcast over every position. */
  addVector(x: T, v: T): T;
  /** x [B, …, C] · v [B, C] broadcast over every position. */
  mulVector(x: T, v: T): T;
  silu(x: T): T;
  /** Exact (erf) GELU. */
  gelu(x: T): T;
  /** OpenAI CLIP's x·σ(1.702x). */
  quickGelu(x: T): T;
  relu(x: T): T;
  leakyRelu(x: T, alpha: number): T;

  // The last (channel) axis.
  /** Concatenation along the last axis. */
  concat(xs: readonly T[]): T;
  /**
   * Splits the last axis, viewed as [groups, parts, d], into `parts` values of [..., groups·d] (groups kept in
   * order). groups = 1 is a plain `chunk(parts)`; the legacy QKV layout [heads, 3, d] is groups = heads, parts = 3.
   */
  split(x: T, parts: number, groups?: number): T[];

  /**
   * A scope for intermediates (tfjs: `tf.tidy`). When `module` is given, the engine makes its weights available
   * for the duration (the tfjs engine uploads host-held weights; see `withWeights`).
   */
  scope<R extends T | readonly T[] | ReadonlyMap<number, T>>(fn: () => R, module?: object): R;
  /** Frees an intermediate no longer needed (never an input or a returned value). */
  release(x: T): void;
}

export interface AttentionOptions {
  heads: number;
  /** Multiplier of q·kᵀ (usually d^−½). */
  scale: number;
  /** Causal self-attention (text towers): −∞ above the diagonal. */
  causal?: boolean;
  /** Bound on the bytes of one float32 score block materialised at once (eager engines chunk queries by it). */
  scoreBudgetBytes?: number;
}

export interface LinearAttentionOptions {
  heads: number;
  /** Multiplier of the softmaxed queries (usually d^−½). */
  scale: number;
}
