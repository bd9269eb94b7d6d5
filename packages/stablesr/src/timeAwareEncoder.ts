import type * as tf from '@tensorflow/tfjs-core';
import { type CompiledNetwork, type EngineInfo, type Ops, type WeightView, buildModule, compileNetwork, disposeModule, loadConv2d, tfjsOps } from '@stablesr/core';
import {
  type AttentionBlock,
  type Downsample,
  type InputConv,
  type ResBlock,
  type TimeEmbed,
  type UNetLayerEnv,
  loadAttentionBlock,
  loadDownsample,
  loadResBlock,
  loadTimeEmbed,
  resBlockForwardOps,
  sequentialForwardOps,
  stableSROutNormGroups,
  batchTimestepEmbedding,
  timeEmbedForwardOps,
} from '@stablesr/unet';
import { type StructCond } from './srModels.js';

/** `EncoderUNetModelWT` constructor parameters (StableSR `openaimodel.py`), field for field. */
export interface EncoderUNetModelWTConfig {
  image_size?: number;
  in_channels: number;
  model_channels: number;
  /** Channels of every output feature (= the U-Net's `semb_channels`). */
  out_channels: number;
  num_res_blocks: number;
  attention_resolutions: readonly number[];
  dropout?: number;
  channel_mult?: readonly number[];
  conv_resample?: boolean;
  dims?: number;
  use_checkpoint?: boolean;
  use_fp16?: boolean;
  num_heads?: number;
  num_head_channels?: number;
  num_heads_upsample?: number;
  use_scale_shift_norm?: boolean;
  resblock_updown?: boolean;
  use_new_attention_order?: boolean;
}

/** Reference constructor defaults of `EncoderUNetModelWT`. */
export const ENCODER_UNET_WT_DEFAULTS = {
  channel_mult: [1, 2, 4, 8] as readonly number[],
  conv_resample: true,
  dims: 2,
  num_heads: 1,
  num_head_channels: -1,
  use_scale_shift_norm: false,
  resblock_updown: false,
  use_new_attention_order: false,
} as const;

type EncoderLayer = InputConv | ResBlock | AttentionBlock | Downsample;

/**
 * StableSR's time-aware encoder (`structcond_stage_model`): the encoder half of a U-Net (ResBlocks with
 * StableSR's norm-group rule, legacy `AttentionBlock`s, Downsample) plus one `fea_tran[i]` ResBlock
 * (C_i → out_channels) per resolution. Laid out as the key tree (`input_blocks[1][1].qkv`, `fea_tran[2]`, …).
 */
export interface TimeAwareEncoder {
  readonly config: Readonly<EncoderUNetModelWTConfig>;
  readonly time_embed: TimeEmbed;
  readonly input_blocks: readonly (readonly EncoderLayer[])[];
  readonly middle_block: readonly [ResBlock, AttentionBlock, ResBlock];
  readonly fea_tran: readonly ResBlock[];
}

/**
 * Builds `EncoderUNetModelWT` from its config and a view scoped to `structcond_stage_model.` (strict: all
 * keys used, none missing or mis-shaped; a failed load releases what it read).
 */
export function loadTimeAwareEncoder(config: EncoderUNetModelWTConfig, view: WeightView): TimeAwareEncoder {
  return buildModule(() => buildEncoder(config, view));
}

function buildEncoder(config: EncoderUNetModelWTConfig, view: WeightView): TimeAwareEncoder {
  const cfg = { ...ENCODER_UNET_WT_DEFAULTS, ...Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined && v !== null)) } as typeof ENCODER_UNET_WT_DEFAULTS & EncoderUNetModelWTConfig;
  if (cfg.dims !== 2) throw new Error(`EncoderUNetModelWT: dims=${cfg.dims} is not supported (only 2-D)`);
  if (typeof cfg.num_res_blocks !== 'number') throw new Error('EncoderUNetModelWT: num_res_blocks must be an int');
  const mc = cfg.model_channels;
  const emb = 4 * mc;
  const attnRes = new Set(cfg.attention_resolutions);
  const res = (v: WeightView, ch: number, out: number, down = false): ResBlock =>
    loadResBlock(v, { channels: ch, embChannels: emb, outChannels: out, useScaleShiftNorm: cfg.use_scale_shift_norm, down, outNormGroups: stableSROutNormGroups(out) });
  const attn = (v: WeightView, ch: number): AttentionBlock => loadAttentionBlock(v, ch, cfg.num_heads, cfg.num_head_channels, cfg.use_new_attention_order);

  const inputBlocks: EncoderLayer[][] = [[{ kind: 'Conv', ...loadConv2d(view.scope('input_blocks.0.'), '0', cfg.in_channels, mc, 3) }]];
  const featureChans: number[] = [];
  let ch = mc;
  let ds = 1;
  const levels = cfg.channel_mult.length;
  for (let level = 0; level < levels; level++) {
    for (let n = 0; n < cfg.num_res_blocks; n++) {
      const i = inputBlocks.length;
      const out = cfg.channel_mult[level]! * mc;
      const layers: EncoderLayer[] = [res(view.scope(`input_blocks.${i}.0.`), ch, out)];
      ch = out;
      if (attnRes.has(ds)) layers.push(attn(view.scope(`input_blocks.${i}.1.`), ch));
      inputBlocks.push(layers);
    }
    if (level !== levels - 1) {
      const v = view.scope(`input_blocks.${inputBlocks.length}.0.`);
      inputBlocks.push([cfg.resblock_updown ? res(v, ch, ch, true) : loadDownsample(v, ch, cfg.conv_resample, ch)]);
      featureChans.push(ch);
      ds *= 2;
    }
  }
  const middle: [ResBlock, AttentionBlock, ResBlock] = [res(view.scope('middle_block.0.'), ch, ch), attn(view.scope('middle_block.1.'), ch), res(view.scope('middle_block.2.'), ch, ch)];
  featureChans.push(ch);
  const enc: TimeAwareEncoder = {
    config: { ...config },
    time_embed: loadTimeEmbed(view.scope('time_embed.'), mc, emb),
    input_blocks: inputBlocks,
    middle_block: middle,
    fea_tran: featureChans.map((c, i) => res(view.scope(`fea_tran.${i}.`), c, cfg.out_channels)),
  };
  view.assertAllUsed('EncoderUNetModelWT (time-aware encoder)');
  return enc;
}

/**
 * `EncoderUNetModelWT.forward(x, timesteps)` on any engine: `x` [B, H, W, in_channels] (the scaled LR latent),
 * `tEmb` the host-computed sinusoidal embedding [B, model_channels] ({@link timestepEmbedding}). The input of every
 * block that changes the spatial width (the Downsample blocks) and the middle-block output, each through its
 * `fea_tran[i]`, keyed by feature **width** (`ops.shape(f)[2]`). The caller owns (and releases) the returned values.
 *
 * Each layer runs in its own {@link Ops.scope} naming it (host-held weights are uploaded one layer at a time unless
 * the caller already holds the whole encoder's); intermediates are released as soon as they are consumed.
 */
export function timeAwareEncoderForwardOps<T>(ops: Ops<T>, enc: TimeAwareEncoder, x: T, tEmb: T): ReadonlyMap<number, T> {
  const [b, , xw, c] = ops.shape(x) as [number, number, number, number];
  if (c !== enc.config.in_channels) throw new Error(`time-aware encoder: input has ${c} channels, the model expects in_channels ${enc.config.in_channels}`);
  const te = ops.shape(tEmb);
  const mc = enc.time_embed.modelChannels;
  if (te.length !== 2 || te[0] !== b || te[1] !== mc) {
    throw new Error(`time-aware encoder: the timestep embedding has shape [${te.join(', ')}], the model needs [${b}, ${mc}] (batch × model_channels)`);
  }
  const width = (v: T): number => ops.shape(v)[2]!;
  const emb = ops.scope(() => timeEmbedForwardOps(ops, enc.time_embed, tEmb), enc.time_embed);
  const env: UNetLayerEnv<T> = { emb };
  const features: T[] = [];
  const out = new Map<number, T>();
  let h = x;
  try {
    for (const blk of enc.input_blocks) {
      const next = sequentialForwardOps(ops, blk, h, env);
      if (width(next) !== width(h)) features.push(h);
      else if (h !== x) ops.release(h);
      h = next;
    }
    const mid = sequentialForwardOps(ops, enc.middle_block, h, env);
    if (h !== x && !features.includes(h)) ops.release(h);
    h = x;
    features.push(mid);
    if (features.length !== enc.fea_tran.length) {
      throw new Error(`time-aware encoder: ${features.length} resolution changes for ${enc.fea_tran.length} fea_tran blocks (input width ${xw} too small for ${enc.fea_tran.length - 1} downsamplings?)`);
    }
    features.forEach((f, i) => {
      const block = enc.fea_tran[i]!;
      const w = width(f);
      const y = ops.scope(() => resBlockForwardOps(ops, block, f, emb), block);
      const prev = out.get(w);
      if (prev !== undefined) ops.release(prev); // a repeated width overwrites (in place), as the reference dict does
      out.set(w, y);
    });
    return out;
  } catch (e) {
    for (const v of out.values()) ops.release(v);
    throw e;
  } finally {
    for (const f of features) if (f !== x) ops.release(f);
    if (h !== x && !features.includes(h)) ops.release(h);
    ops.release(emb);
  }
}

/**
 * {@link timeAwareEncoderForwardOps} on TensorFlow.js: NHWC `x`, one timestep per batch row (a single value is used
 * for every row). The caller owns (and disposes) the returned tensors.
 */
export function timeAwareEncoderForward(enc: TimeAwareEncoder, x: tf.Tensor4D, timesteps: ArrayLike<number>): StructCond {
  const tEmb = batchTimestepEmbedding(timesteps, x.shape[0], enc.time_embed.modelChannels, 'time-aware encoder');
  try {
    return timeAwareEncoderForwardOps(tfjsOps, enc, x, tEmb) as StructCond;
  } finally {
    tEmb.dispose();
  }
}

/** The time-aware encoder compiled for an engine: `(lrLatent, timesteps)` → struct_cond keyed by width. */
export interface TimeAwareEncoderNetwork {
  run(x: tf.Tensor4D, timesteps: ArrayLike<number>): Promise<StructCond>;
  readonly network: CompiledNetwork;
}

/** Compiles {@link timeAwareEncoderForwardOps} for `engine` (its outputs come back keyed by their width). */
export function compileTimeAwareEncoder(enc: TimeAwareEncoder, engine: EngineInfo): TimeAwareEncoderNetwork {
  const network = compileNetwork({ name: 'time-aware encoder', module: enc, uploadWhole: true, forward: (ops, [x, tEmb]) => [...timeAwareEncoderForwardOps(ops, enc, x!, tEmb!).values()] }, engine);
  return {
    network,
    run: async (x, timesteps) => {
      const tEmb = batchTimestepEmbedding(timesteps, x.shape[0], enc.time_embed.modelChannels, 'time-aware encoder');
      try {
        const outs = (await network.run([x, tEmb])) as tf.Tensor4D[];
        return new Map(outs.map((f) => [f.shape[2], f]));
      } finally {
        tEmb.dispose();
      }
    },
  };
}

/** Releases every tensor of the encoder. */
export function disposeTimeAwareEncoder(enc: TimeAwareEncoder): void {
  disposeModule(enc);
}
