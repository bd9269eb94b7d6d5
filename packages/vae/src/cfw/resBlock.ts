import { type Conv2d, type WeightView, loadConv2d } from '@stablesr/core';
import { type FeatureOps } from '../featureOps.js';
import { type ResidualBranch, loadResidualBranch, residualBranchForward } from '../resnetBlock.js';

/**
 * CFW's `ResBlock` (model.py): `conv2(swish(norm2(conv1(swish(norm1(x))))))` plus the input, which goes
 * through the 1×1 `conv_out` when the channel count changes. Differs from `ResnetBlock` only in that name.
 */
export interface CfwResBlock extends ResidualBranch {
  readonly in_channels: number;
  readonly out_channels: number;
  readonly conv_out?: Conv2d;
}

export function loadCfwResBlock(view: WeightView, inChannels: number, outChannels: number): CfwResBlock {
  return {
    in_channels: inChannels,
    out_channels: outChannels,
    ...loadResidualBranch(view, inChannels, outChannels),
    ...(inChannels !== outChannels ? { conv_out: loadConv2d(view, 'conv_out', inChannels, outChannels, 1) } : {}),
  };
}

export function cfwResBlockForward<F>(ops: FeatureOps<F>, b: CfwResBlock, x: F): F {
  return ops.scope(() => {
    const h = residualBranchForward(ops, b, x);
    return ops.add(h, b.conv_out ? ops.conv(b.conv_out, x) : x);
  });
}
