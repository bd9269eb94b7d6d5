import type * as tf from '@tensorflow/tfjs-core';
import { type GroupNorm, type Linear, type Ops, type WeightView, loadGroupNorm, loadLinear, tfjsOps } from '@stablesr/core';
import { type BasicTransformerBlock, basicTransformerBlockForwardOps, loadBasicTransformerBlock } from './basicTransformerBlock.js';
import { type AttentionBudget } from './crossAttention.js';

export interface SpatialTransformerOptions {
  inChannels: number;
  heads: number;
  dimHead: number;
  depth?: number;
  /** Context width, one per depth when a list (the reference's `context_dim[d]`). */
  contextDim?: number | readonly number[];
  disableSelfAttn?: boolean;
  /** `use_linear`: `proj_in`/`proj_out` are Linear on tokens instead of 1×1 convs. */
  useLinear?: boolean;
}

/**
 * `SpatialTransformer` (`SpatialTransformerV2` in StableSR): GroupNorm(32, eps 1e-6) → `proj_in` → tokens
 * [B, H·W, C] (row-major) → `transformer_blocks` → `proj_out` → + input.
 *
 * A 1×1 conv on NHWC is the same map as a Linear on the tokens, so both `proj_in` variants run as a Linear;
 * `useLinear` only decides which stored layout ([out, in] or [out, in, 1, 1]) the checkpoint must have.
 */
export interface SpatialTransformer {
  readonly kind: 'SpatialTransformer';
  readonly inChannels: number;
  readonly innerDim: number;
  readonly useLinear: boolean;
  readonly norm: GroupNorm;
  readonly proj_in: Linear;
  readonly transformer_blocks: readonly BasicTransformerBlock[];
  readonly proj_out: Linear;
}

export function loadSpatialTransformer(view: WeightView, o: SpatialTransformerOptions): SpatialTransformer {
  const useLinear = o.useLinear ?? false;
  const inner = o.heads * o.dimHead;
  const depth = o.depth ?? 1;
  const stored = view.shapeOf('proj_in.weight');
  if (stored && stored.length !== (useLinear ? 2 : 4)) {
    throw new Error(
      `${view.origin} [${view.prefix}proj_in.weight]: stored shape [${stored.join(', ')}] is a ${stored.length === 2 ? 'Linear' : '1×1 conv'} ` +
        `but use_linear_in_transformer is ${useLinear} (the config does not fit this checkpoint)`,
    );
  }
  const ctx = o.contextDim;
  const ctxAt = (d: number): number | undefined => (Array.isArray(ctx) ? (ctx as readonly number[])[d] : (ctx as number | undefined));
  if (Array.isArray(ctx) && ctx.length < depth) throw new Error(`SpatialTransformer ${view.prefix}: context_dim lists ${ctx.length} widths for depth ${depth}`);
  if (useLinear && inner !== o.inChannels) {
    // The reference builds proj_out as Linear(in_channels, inner_dim) and applies it to inner_dim features.
    throw new Error(`SpatialTransformer ${view.prefix}: use_linear needs heads·dim_head (${inner}) = channels (${o.inChannels})`);
  }
  return {
    kind: 'SpatialTransformer',
    inChannels: o.inChannels,
    innerDim: inner,
    useLinear,
    norm: loadGroupNorm(view, 'norm', o.inChannels, 32, 1e-6),
    proj_in: loadLinear(view, 'proj_in', o.inChannels, inner),
    transformer_blocks: Array.from({ length: depth }, (_, d) =>
      loadBasicTransformerBlock(view.scope(`transformer_blocks.${d}.`), inner, o.heads, o.dimHead, ctxAt(d), o.disableSelfAttn ?? false),
    ),
    proj_out: loadLinear(view, 'proj_out', inner, o.inChannels),
  };
}

/**
 * Map x [B, H, W, C], context [B, M, contextDim] (or one per depth, as an array) → [B, H, W, C], on any engine
 * (whose values are not themselves arrays).
 */
export function spatialTransformerForwardOps<T>(ops: Ops<T>, st: SpatialTransformer, x: T, context?: T | readonly T[], budget?: AttentionBudget): T {
  return ops.scope(() => {
    const [, h, w] = ops.shape(x) as [number, number, number, number];
    let t = ops.linear(st.proj_in, ops.toTokens(ops.groupNorm(st.norm, x))); // [B, HW, inner]
    st.transformer_blocks.forEach((blk, i) => {
      const ctx = Array.isArray(context) ? (context as readonly T[])[i] : (context as T | undefined);
      t = basicTransformerBlockForwardOps(ops, blk, t, ctx, budget);
    });
    return ops.add(ops.fromTokens(ops.linear(st.proj_out, t), h, w), x);
  });
}

/** {@link spatialTransformerForwardOps} on TensorFlow.js (NHWC tensors). */
export function spatialTransformerForward(st: SpatialTransformer, x: tf.Tensor4D, context?: tf.Tensor3D | readonly tf.Tensor3D[], opts?: AttentionBudget): tf.Tensor4D {
  return spatialTransformerForwardOps(tfjsOps, st, x, context, opts) as tf.Tensor4D;
}
