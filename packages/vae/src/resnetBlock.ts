import type * as tf from '@tensorflow/tfjs-core';
import { type Conv2d, type GroupNorm, type WeightView, loadConv2d, loadGroupNorm } from '@stablesr/core';
import { VAE_NORM_EPS, VAE_NORM_GROUPS } from './config.js';
import { type FeatureOps, tensorOps } from './featureOps.js';

/**
 * The residual branch `conv2(swish(norm2(conv1(swish(norm1(x))))))` shared by the VAE's `ResnetBlock` and
 * CFW's `ResBlock` (which differ only in the name of the 1×1 shortcut).
 */
export interface ResidualBranch {
  readonly norm1: GroupNorm;
  readonly conv1: Conv2d;
  readonly norm2: GroupNorm;
  readonly conv2: Conv2d;
}

/** Loads `norm1`, `conv1`, `norm2`, `conv2` from a view scoped at the block. */
export function loadResidualBranch(view: WeightView, inChannels: number, outChannels: number): ResidualBranch {
  return {
    norm1: loadGroupNorm(view, 'norm1', inChannels, VAE_NORM_GROUPS, VAE_NORM_EPS),
    conv1: loadConv2d(view, 'conv1', inChannels, outChannels, 3),
    norm2: loadGroupNorm(view, 'norm2', outChannels, VAE_NORM_GROUPS, VAE_NORM_EPS),
    conv2: loadConv2d(view, 'conv2', outChannels, outChannels, 3),
  };
}

/** The residual branch alone (no shortcut); call it inside the block's `ops.scope`. */
export function residualBranchForward<F>(ops: FeatureOps<F>, b: ResidualBranch, x: F): F {
  const h1 = ops.conv(b.conv1, ops.silu(ops.groupNorm(b.norm1, x)));
  return ops.conv(b.conv2, ops.silu(ops.groupNorm(b.norm2, h1)));
}

/**
 * `ResnetBlock` of `ldm/modules/diffusionmodules/model.py` as used by the VAE (no timestep embedding):
 * `h = conv2(swish(norm2(conv1(swish(norm1(x))))))`, output `shortcut(x) + h` where the shortcut is the
 * 1×1 `nin_shortcut` when the channel count changes.
 */
export interface ResnetBlock extends ResidualBranch {
  readonly in_channels: number;
  readonly out_channels: number;
  readonly nin_shortcut?: Conv2d;
}

/** Loads from a view scoped at the block (`encoder.down.0.block.1.`). */
export function loadResnetBlock(view: WeightView, inChannels: number, outChannels: number): ResnetBlock {
  return {
    in_channels: inChannels,
    out_channels: outChannels,
    ...loadResidualBranch(view, inChannels, outChannels),
    ...(inChannels !== outChannels ? { nin_shortcut: loadConv2d(view, 'nin_shortcut', inChannels, outChannels, 1) } : {}),
  };
}

export function resnetBlockForward<F>(ops: FeatureOps<F>, b: ResnetBlock, x: F): F {
  return ops.scope(() => {
    const h = residualBranchForward(ops, b, x);
    return ops.add(b.nin_shortcut ? ops.conv(b.nin_shortcut, x) : x, h);
  });
}

/** Untiled forward over an NHWC tensor. */
export function resnetBlock(b: ResnetBlock, x: tf.Tensor4D): tf.Tensor4D {
  return resnetBlockForward(tensorOps, b, x);
}
