import { type Conv2d, type GroupNorm, type WeightView, loadConv2d, loadGroupNorm } from '@stablesr/core';
import { VAE_NORM_EPS, VAE_NORM_GROUPS } from '../config.js';
import { type FeatureOps } from '../featureOps.js';

/**
 * CFW's `ResBlock` (model.py): `conv2(swish(norm2(conv1(swish(norm1(x))))))` plus the input, which goes
 * through the 1×1 `conv_out` when the channel count changes. Differs from `ResnetBlock` only in that name.
 */
export interface CfwResBlock {
  readonly in_channels: number;
  readonly out_channels: number;
  readonly norm1: GroupNorm;
  readonly conv1: Conv2d;
  readonly norm2: GroupNorm;
  readonly conv2: Conv2d;
  readonly conv_out?: Conv2d;
}

export function loadCfwResBlock(view: WeightView, inChannels: number, outChannels: number): CfwResBlock {
  return {
    in_channels: inChannels,
    out_channels: outChannels,
    norm1: loadGroupNorm(view, 'norm1', inChannels, VAE_NORM_GROUPS, VAE_NORM_EPS),
    conv1: loadConv2d(view, 'conv1', inChannels, outChannels, 3),
    norm2: loadGroupNorm(view, 'norm2', outChannels, VAE_NORM_GROUPS, VAE_NORM_EPS),
    conv2: loadConv2d(view, 'conv2', outChannels, outChannels, 3),
    ...(inChannels !== outChannels ? { conv_out: loadConv2d(view, 'conv_out', inChannels, outChannels, 1) } : {}),
  };
}

export function cfwResBlockForward<F>(ops: FeatureOps<F>, b: CfwResBlock, x: F): F {
  return ops.scope(() => {
    const h1 = ops.conv(b.conv1, ops.silu(ops.groupNorm(b.norm1, x)));
    const h2 = ops.conv(b.conv2, ops.silu(ops.groupNorm(b.norm2, h1)));
    return ops.add(h2, b.conv_out ? ops.conv(b.conv_out, x) : x);
  });
}
