import type * as tf from '@tensorflow/tfjs-core';
import { type Conv2d, type GroupNorm, type WeightView, loadConv2d, loadGroupNorm } from '@stablesr/core';
import { type AttnBlock, loadAttnBlock } from './attnBlock.js';
import { type FuseSftBlockRRDB, fuseSftBlockRRDBForward, loadFuseSftBlockRRDB } from './cfw/fuseSftBlockRRDB.js';
import { type DDConfig, VAE_NORM_EPS, VAE_NORM_GROUPS } from './config.js';
import { type FeatureOps, tensorOps } from './featureOps.js';
import { type MidBlock, loadMidBlock, midBlockForward } from './midBlock.js';
import { type ResnetBlock, loadResnetBlock, resnetBlockForward } from './resnetBlock.js';
import { type Upsample, loadUpsample, upsampleForward } from './upsample.js';

/** One level `up.<i>` of the decoder (executed for i = L−1 … 0). */
export interface DecoderLevel {
  readonly block: readonly ResnetBlock[];
  readonly attn: readonly AttnBlock[];
  /** Absent on level 0. */
  readonly upsample?: Upsample;
}

/**
 * `Decoder`, or StableSR's `Decoder_Mix` when loaded with fusion layers: `fusion_layer_<i>` exists for
 * every level 0 < i < L−1 and is applied after that level's blocks, before its upsample.
 */
export interface Decoder {
  readonly config: DDConfig;
  readonly conv_in: Conv2d;
  readonly mid: MidBlock;
  readonly up: readonly DecoderLevel[];
  readonly norm_out: GroupNorm;
  readonly conv_out: Conv2d;
  /** Levels that carry a fusion layer (empty for the plain decoder). */
  readonly fusionLevels: readonly number[];
  readonly [fusionLayer: `fusion_layer_${number}`]: FuseSftBlockRRDB | undefined;
}

/** Decoder_Mix's fusion levels: 0 < i < L−1. */
export function cfwFusionLevels(dd: DDConfig): number[] {
  const levels: number[] = [];
  for (let i = 1; i < dd.ch_mult.length - 1; i++) levels.push(i);
  return levels;
}

/**
 * Loads from a view scoped at `decoder.`. With `numFuseBlock` set, also loads `fusion_layer_<i>`
 * (`Decoder_Mix` with that many RRDBs per fusion layer).
 */
export function loadDecoder(view: WeightView, dd: DDConfig, numFuseBlock?: number): Decoder {
  const L = dd.ch_mult.length;
  let blockIn = dd.ch * dd.ch_mult[L - 1]!;
  let currRes = Math.floor(dd.resolution / 2 ** (L - 1));
  const conv_in = loadConv2d(view, 'conv_in', dd.z_channels, blockIn, 3);
  const mid = loadMidBlock(view.scope('mid.'), blockIn);
  const up: DecoderLevel[] = new Array<DecoderLevel>(L);
  const fusion: Record<string, FuseSftBlockRRDB> = {};
  const fusionLevels = numFuseBlock === undefined ? [] : cfwFusionLevels(dd);
  for (let i = L - 1; i >= 0; i--) {
    const lv = view.scope(`up.${i}.`);
    const blockOut = dd.ch * dd.ch_mult[i]!;
    if (fusionLevels.includes(i)) fusion[`fusion_layer_${i}`] = loadFuseSftBlockRRDB(view.scope(`fusion_layer_${i}.`), blockOut, numFuseBlock!);
    const block: ResnetBlock[] = [];
    const attn: AttnBlock[] = [];
    for (let j = 0; j < dd.num_res_blocks + 1; j++) {
      block.push(loadResnetBlock(lv.scope(`block.${j}.`), blockIn, blockOut));
      blockIn = blockOut;
      if (dd.attn_resolutions.includes(currRes)) attn.push(loadAttnBlock(lv.scope(`attn.${j}.`), blockIn));
    }
    if (i !== 0) {
      up[i] = { block, attn, upsample: loadUpsample(lv.scope('upsample.'), blockIn) };
      currRes *= 2;
    } else {
      up[i] = { block, attn };
    }
  }
  return {
    config: dd,
    conv_in,
    mid,
    up,
    norm_out: loadGroupNorm(view, 'norm_out', blockIn, VAE_NORM_GROUPS, VAE_NORM_EPS),
    conv_out: loadConv2d(view, 'conv_out', blockIn, dd.out_ch, 3),
    fusionLevels,
    ...fusion,
  };
}

/** CFW conditioning: encoder features by fusion level (`encFeatures[k]` for `d.fusionLevels[k]`) and weight w. */
export interface DecoderFusion<F> {
  readonly encFeatures: readonly F[];
  readonly w: number;
}

/**
 * Decoder forward (`Decoder.forward` / `Decoder_Mix.forward`). Without `fusion`, or with w = 0, fusion
 * layers are skipped: `h + 0·fuse(…)` equals h exactly for finite values, so the result is the same.
 */
export function decoderForward<F>(ops: FeatureOps<F>, d: Decoder, z: F, fusion?: DecoderFusion<F>): F {
  if (fusion && fusion.encFeatures.length !== d.fusionLevels.length) {
    throw new Error(`decoder: ${fusion.encFeatures.length} encoder feature maps given, the fusion layers need ${d.fusionLevels.length} (levels ${d.fusionLevels.join(', ')})`);
  }
  let h = ops.conv(d.conv_in, z);
  const step = (next: F): void => {
    ops.release(h);
    h = next;
  };
  step(midBlockForward(ops, d.mid, h));
  for (let i = d.up.length - 1; i >= 0; i--) {
    const level = d.up[i]!;
    level.block.forEach((b, j) => {
      step(resnetBlockForward(ops, b, h));
      const a = level.attn[j];
      if (a) step(ops.attention(a, h));
    });
    const k = d.fusionLevels.indexOf(i);
    const layer = d[`fusion_layer_${i}`];
    if (fusion && fusion.w !== 0 && k >= 0 && layer) step(fuseSftBlockRRDBForward(ops, layer, fusion.encFeatures[k]!, h, fusion.w));
    if (level.upsample) step(upsampleForward(ops, level.upsample, h));
  }
  step(ops.scope(() => ops.conv(d.conv_out, ops.silu(ops.groupNorm(d.norm_out, h)))));
  return h;
}

/** Untiled plain decoder over an NHWC latent (after `post_quant_conv`). */
export function decoder(d: Decoder, z: tf.Tensor4D): tf.Tensor4D {
  return decoderForward(tensorOps, d, z);
}
