import type * as tf from '@tensorflow/tfjs-core';
import { type Conv2d, type GroupNorm, type Linear, type Ops, type WeightView, loadConv2d, loadGroupNorm, loadLinear, tfjsOps } from '@stablesr/core';
import { type ResBlockCond, type ResBlockModulation, type UNetExtension } from './resBlockModulation.js';

/** GroupNorm32 of the diffusion U-Net: 32 groups, eps 1e-5, computed in float32. */
export const GROUP_NORM32_EPS = 1e-5;

export interface ResBlockOptions {
  channels: number;
  embChannels: number;
  /** Default `channels`. */
  outChannels?: number;
  /** `use_scale_shift_norm`: the time embedding gives a scale and shift of the second norm (FiLM). */
  useScaleShiftNorm?: boolean;
  /** `up=True` (resblock_updown): nearest ×2 of h and x between the first norm/SiLU and conv. */
  up?: boolean;
  /** `down=True` (resblock_updown): 2×2 average pooling of h and x at the same place. */
  down?: boolean;
  /**
   * Groups of the second norm (`out_layers.0`). Default 32. StableSR's own `ResBlock` (the time-aware encoder)
   * uses one group per channel when `out_channels % 32 != 0`: see {@link stableSROutNormGroups}.
   */
  outNormGroups?: number;
}

/** StableSR's `ResBlock` rule for `out_layers.0`: 32 groups, or one group per channel when C is not a multiple of 32. */
export function stableSROutNormGroups(outChannels: number): number {
  return outChannels % 32 === 0 ? 32 : outChannels;
}

/**
 * `ResBlock` of openaimodel.py: `in_layers` = [GN, SiLU, conv3×3], `emb_layers` = [SiLU, Linear],
 * `out_layers` = [GN, SiLU, Dropout, conv3×3], `skip_connection` = identity or 1×1 conv, plus the optional
 * modulation of a {@link UNetExtension} (StableSR's `ResBlockDual` = this + SPADE).
 */
export interface ResBlock {
  readonly kind: 'ResBlock';
  readonly channels: number;
  readonly outChannels: number;
  readonly useScaleShiftNorm: boolean;
  readonly updown: 'up' | 'down' | undefined;
  readonly in_layers: { readonly 0: GroupNorm; readonly 2: Conv2d };
  readonly emb_layers: { readonly 1: Linear };
  readonly out_layers: { readonly 0: GroupNorm; readonly 3: Conv2d };
  readonly skip_connection: Conv2d | undefined;
  readonly modulation: ResBlockModulation | undefined;
}

export function loadResBlock(view: WeightView, opts: ResBlockOptions, extension?: UNetExtension): ResBlock {
  const { channels, embChannels } = opts;
  const outChannels = opts.outChannels ?? channels;
  const useScaleShiftNorm = opts.useScaleShiftNorm ?? false;
  if (opts.up && opts.down) throw new Error(`ResBlock ${view.prefix}: up and down are exclusive`);
  return {
    kind: 'ResBlock',
    channels,
    outChannels,
    useScaleShiftNorm,
    updown: opts.up ? 'up' : opts.down ? 'down' : undefined,
    in_layers: {
      0: loadGroupNorm(view, 'in_layers.0', channels, 32, GROUP_NORM32_EPS),
      2: loadConv2d(view, 'in_layers.2', channels, outChannels, 3),
    },
    emb_layers: { 1: loadLinear(view, 'emb_layers.1', embChannels, useScaleShiftNorm ? 2 * outChannels : outChannels) },
    out_layers: {
      0: loadGroupNorm(view, 'out_layers.0', outChannels, opts.outNormGroups ?? 32, GROUP_NORM32_EPS),
      3: loadConv2d(view, 'out_layers.3', outChannels, outChannels, 3),
    },
    skip_connection: outChannels === channels ? undefined : loadConv2d(view, 'skip_connection', channels, outChannels, 1),
    modulation: extension?.loadModulation(view, { channels, outChannels, embChannels }),
  };
}

/**
 * `ResBlock._forward(x, emb)` on a map `x` [B, H, W, channels] with `emb` [B, embChannels], on any engine; `cond`
 * goes to the modulation (required when the block has one).
 */
export function resBlockForwardOps<T>(ops: Ops<T>, block: ResBlock, x: T, emb: T, cond?: ResBlockCond<T>): T {
  return ops.scope(() => {
    const rest = ops.silu(ops.groupNorm(block.in_layers[0], x));
    let h: T;
    let xs = x;
    if (block.updown === 'up') {
      h = ops.conv2d(block.in_layers[2], ops.upsampleNearest2x(rest));
      xs = ops.upsampleNearest2x(x);
    } else if (block.updown === 'down') {
      h = ops.conv2d(block.in_layers[2], ops.avgPool2x(rest));
      xs = ops.avgPool2x(x);
    } else {
      h = ops.conv2d(block.in_layers[2], rest);
    }
    const b = ops.shape(x)[0];
    const embOut = ops.linear(block.emb_layers[1], ops.silu(emb)); // [B, C] or [B, 2C]
    const eb = ops.shape(embOut)[0];
    if (eb !== b) throw new Error(`ResBlock: time embedding batch ${eb} ≠ input batch ${b}`);
    if (block.useScaleShiftNorm) {
      const [scale, shift] = ops.split(embOut, 2) as [T, T];
      const normed = ops.groupNorm(block.out_layers[0], h);
      h = ops.addVector(ops.mulVector(normed, ops.addScalar(scale, 1)), shift);
      h = ops.conv2d(block.out_layers[3], ops.silu(h));
    } else {
      h = ops.addVector(h, embOut);
      h = ops.conv2d(block.out_layers[3], ops.silu(ops.groupNorm(block.out_layers[0], h)));
    }
    if (block.modulation) {
      if (cond === undefined) throw new Error('ResBlock: this U-Net has per-block modulation and needs its conditioning (struct_cond), but none was given');
      h = block.modulation.apply(ops, h, cond);
    }
    const skip = block.skip_connection ? ops.conv2d(block.skip_connection, xs) : xs;
    return ops.add(skip, h);
  });
}

/** {@link resBlockForwardOps} on TensorFlow.js (NHWC tensors). */
export function resBlockForward(block: ResBlock, x: tf.Tensor4D, emb: tf.Tensor2D, cond?: ResBlockCond<tf.Tensor>): tf.Tensor4D {
  return resBlockForwardOps(tfjsOps, block, x, emb, cond) as tf.Tensor4D;
}
