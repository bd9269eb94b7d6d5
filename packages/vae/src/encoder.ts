import type * as tf from '@tensorflow/tfjs-core';
import { type Conv2d, type GroupNorm, type WeightView, loadConv2d, loadGroupNorm } from '@stablesr/core';
import { type AttnBlock, loadAttnBlock } from './attnBlock.js';
import { type DDConfig, VAE_NORM_EPS, VAE_NORM_GROUPS } from './config.js';
import { type Downsample, loadDownsample } from './downsample.js';
import { type FeatureOps, tensorOps } from './featureOps.js';
import { type MidBlock, loadMidBlock, midBlockForward } from './midBlock.js';
import { type ResnetBlock, loadResnetBlock, resnetBlockForward } from './resnetBlock.js';

/** One level `down.<i>` of the encoder. */
export interface EncoderLevel {
  readonly block: readonly ResnetBlock[];
  /** One AttnBlock per block where the level's resolution is in `attn_resolutions`, else empty. */
  readonly attn: readonly AttnBlock[];
  /** Absent on the last level. */
  readonly downsample?: Downsample;
}

/** `Encoder` of `ldm/modules/diffusionmodules/model.py`. */
export interface Encoder {
  readonly config: DDConfig;
  readonly conv_in: Conv2d;
  readonly down: readonly EncoderLevel[];
  readonly mid: MidBlock;
  readonly norm_out: GroupNorm;
  readonly conv_out: Conv2d;
}

/** Loads from a view scoped at `encoder.`. */
export function loadEncoder(view: WeightView, dd: DDConfig): Encoder {
  const inChMult = [1, ...dd.ch_mult];
  const conv_in = loadConv2d(view, 'conv_in', dd.in_channels, dd.ch, 3);
  const down: EncoderLevel[] = [];
  let currRes = dd.resolution;
  let blockIn = dd.ch;
  for (let i = 0; i < dd.ch_mult.length; i++) {
    const lv = view.scope(`down.${i}.`);
    blockIn = dd.ch * inChMult[i]!;
    const blockOut = dd.ch * dd.ch_mult[i]!;
    const block: ResnetBlock[] = [];
    const attn: AttnBlock[] = [];
    for (let j = 0; j < dd.num_res_blocks; j++) {
      block.push(loadResnetBlock(lv.scope(`block.${j}.`), blockIn, blockOut));
      blockIn = blockOut;
      if (dd.attn_resolutions.includes(currRes)) attn.push(loadAttnBlock(lv.scope(`attn.${j}.`), blockIn));
    }
    const level: EncoderLevel = { block, attn };
    if (i !== dd.ch_mult.length - 1) {
      down.push({ ...level, downsample: loadDownsample(lv.scope('downsample.'), blockIn) });
      currRes = Math.floor(currRes / 2);
    } else {
      down.push(level);
    }
  }
  return {
    config: dd,
    conv_in,
    down,
    mid: loadMidBlock(view.scope('mid.'), blockIn),
    norm_out: loadGroupNorm(view, 'norm_out', blockIn, VAE_NORM_GROUPS, VAE_NORM_EPS),
    conv_out: loadConv2d(view, 'conv_out', blockIn, dd.double_z ? 2 * dd.z_channels : dd.z_channels, 3),
  };
}

/**
 * Encoder forward. `featureLevels` lists levels whose last-block output (before that level's downsample)
 * is returned in `features`, in the given order (`Encoder.forward(x, return_fea=True)` of StableSR).
 */
export function encoderForward<F>(ops: FeatureOps<F>, e: Encoder, x: F, featureLevels: readonly number[] = []): { h: F; features: F[] } {
  const features: F[] = new Array<F>(featureLevels.length);
  let h = ops.conv(e.conv_in, x);
  const step = (next: F): void => {
    if (!features.includes(h)) ops.release(h);
    h = next;
  };
  e.down.forEach((level, i) => {
    level.block.forEach((b, j) => {
      step(resnetBlockForward(ops, b, h));
      const a = level.attn[j];
      if (a) step(ops.attention(a, h));
    });
    featureLevels.forEach((l, k) => {
      if (l === i) features[k] = h;
    });
    if (level.downsample) step(ops.downsample(level.downsample.conv, h));
  });
  step(midBlockForward(ops, e.mid, h));
  step(ops.scope(() => ops.conv(e.conv_out, ops.silu(ops.groupNorm(e.norm_out, h)))));
  return { h, features };
}

/** Untiled encoder over an NHWC image → `[B, H/f, W/f, 2·z_channels]` (before `quant_conv`). */
export function encoder(e: Encoder, x: tf.Tensor4D): tf.Tensor4D {
  return encoderForward(tensorOps, e, x).h;
}
