import type * as tf from '@tensorflow/tfjs-core';
import { type Conv2d, type GroupNorm, type Ops, type WeightView, buildModule, disposeModule, loadConv2d, loadGroupNorm, tfjsOps } from '@stablesr/core';
import { type AttentionBlock, attentionBlockForwardOps, loadAttentionBlock } from './attentionBlock.js';
import { type AttentionBudget } from './crossAttention.js';
import { type Downsample, downsampleForwardOps, loadDownsample } from './downsample.js';
import { GROUP_NORM32_EPS, type ResBlock, loadResBlock, resBlockForwardOps } from './resBlock.js';
import { type ResBlockCond, type UNetExtension } from './resBlockModulation.js';
import { type SpatialTransformer, loadSpatialTransformer, spatialTransformerForwardOps } from './spatialTransformer.js';
import { type TimeEmbed, loadTimeEmbed, timeEmbedForwardOps } from './timeEmbed.js';
import { batchTimestepEmbedding } from './timestepEmbedding.js';
import { UNET_DEFAULTS, type UNetConfig } from './unetConfig.js';
import { type Upsample, loadUpsample, upsampleForwardOps } from './upsample.js';

/** `input_blocks.0.0`: the input conv (keys `input_blocks.0.0.weight/bias`). */
export type InputConv = Conv2d & { readonly kind: 'Conv' };

/** One child of a `TimestepEmbedSequential`. */
export type UNetLayer = InputConv | ResBlock | SpatialTransformer | AttentionBlock | Downsample | Upsample;

/** A `TimestepEmbedSequential`: its children in order (index = the key path segment). */
export type TimestepEmbedSequential = readonly UNetLayer[];

/**
 * The diffusion U-Net (`UNetModel` of SD-2.x; with a {@link UNetExtension} also StableSR's
 * `UNetModelDualcondV2`). Laid out as the checkpoint key tree: `unet.input_blocks[4][1].transformer_blocks[0].attn2.to_k`
 * holds `input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight`. With an extension, the forward's `cond`
 * ({@link ResBlockCond}) reaches every ResBlock's modulation.
 */
export interface UNet {
  readonly config: Readonly<UNetConfig>;
  /** Name of the extension the ResBlocks carry, if any. */
  readonly extension: string | undefined;
  /** Downsampling factor between input and the lowest level (2^(levels−1)). */
  readonly downFactor: number;
  readonly contextDim: number | readonly number[] | undefined;
  readonly time_embed: TimeEmbed;
  readonly input_blocks: readonly TimestepEmbedSequential[];
  readonly middle_block: TimestepEmbedSequential;
  readonly output_blocks: readonly TimestepEmbedSequential[];
  readonly out: { readonly 0: GroupNorm; readonly 2: Conv2d };
}

/** Per-level `num_res_blocks` (an int applies to every level, as the reference accepts). */
export function resBlocksPerLevel(config: UNetConfig): number[] {
  const mult = config.channel_mult ?? UNET_DEFAULTS.channel_mult;
  const n = config.num_res_blocks;
  if (typeof n === 'number') return mult.map(() => n);
  if (n.length !== mult.length) {
    throw new Error(`num_res_blocks lists ${n.length} levels but channel_mult has ${mult.length} (provide an int or one count per level)`);
  }
  return [...n];
}

/**
 * Builds the U-Net from its reference constructor parameters and a weight view scoped to the network
 * (`model.diffusion_model.`). Loading is strict: every key under the view must be used, none may be missing
 * or mis-shaped. With `extension`, every ResBlock also loads the extension's modulation from its own scope.
 */
export function loadUNet(config: UNetConfig, view: WeightView, extension?: UNetExtension): UNet {
  // A failed load (missing / mis-shaped / unexpected key) releases every tensor it had read.
  return buildModule(() => buildUNet(config, view, extension));
}

function buildUNet(config: UNetConfig, view: WeightView, extension?: UNetExtension): UNet {
  const cfg = { ...UNET_DEFAULTS, ...stripNullish(config) } as Required<Pick<UNetConfig, keyof typeof UNET_DEFAULTS>> & UNetConfig;
  const where = `UNetModel (${view.origin}${view.prefix ? ` [${view.prefix}*]` : ''})`;
  if ((cfg.dims ?? 2) !== 2) throw new Error(`${where}: dims=${cfg.dims} is not supported (only 2-D U-Nets)`);
  if (cfg.num_classes !== undefined && cfg.num_classes !== null) throw new Error(`${where}: class-conditional U-Nets (num_classes=${String(cfg.num_classes)}) are not supported`);
  if (cfg.n_embed !== undefined && cfg.n_embed !== null) throw new Error(`${where}: n_embed (codebook prediction) is not supported`);
  const useST = cfg.use_spatial_transformer;
  const contextDim = cfg.context_dim ?? undefined;
  if (useST && contextDim === undefined) throw new Error(`${where}: use_spatial_transformer needs context_dim`);
  if (!useST && contextDim !== undefined) throw new Error(`${where}: context_dim is set but use_spatial_transformer is false`);
  if (cfg.num_heads === -1 && cfg.num_head_channels === -1) throw new Error(`${where}: either num_heads or num_head_channels has to be set`);

  const mc = cfg.model_channels;
  const mult = cfg.channel_mult;
  const nrb = resBlocksPerLevel(cfg);
  const attnRes = new Set(cfg.attention_resolutions);
  const emb = mc * 4;
  const levels = mult.length;
  if (cfg.disable_self_attentions && cfg.disable_self_attentions.length !== levels) throw new Error(`${where}: disable_self_attentions needs ${levels} entries`);
  if (cfg.num_attention_blocks && cfg.num_attention_blocks.length !== levels) throw new Error(`${where}: num_attention_blocks needs ${levels} entries`);

  // The reference mutates `num_heads` while building when num_head_channels is set, and derives
  // num_heads_upsample from the constructor value; mirrored exactly.
  let numHeads = cfg.num_heads;
  const numHeadsUpsample = cfg.num_heads_upsample === -1 ? cfg.num_heads : cfg.num_heads_upsample;
  const headsAt = (ch: number): { heads: number; dimHead: number } => {
    let dimHead: number;
    if (cfg.num_head_channels === -1) dimHead = Math.floor(ch / numHeads);
    else {
      numHeads = Math.floor(ch / cfg.num_head_channels);
      dimHead = cfg.num_head_channels;
    }
    if (cfg.legacy) dimHead = useST ? Math.floor(ch / numHeads) : cfg.num_head_channels;
    return { heads: numHeads, dimHead };
  };
  const attention = (v: WeightView, ch: number, disableSA: boolean, upsampleHeads: boolean): SpatialTransformer | AttentionBlock => {
    const { heads, dimHead } = headsAt(ch);
    if (useST) {
      return loadSpatialTransformer(v, {
        inChannels: ch,
        heads,
        dimHead,
        depth: cfg.transformer_depth,
        ...(contextDim !== undefined ? { contextDim } : {}),
        disableSelfAttn: disableSA,
        useLinear: cfg.use_linear_in_transformer,
      });
    }
    return loadAttentionBlock(v, ch, upsampleHeads ? numHeadsUpsample : heads, dimHead, cfg.use_new_attention_order);
  };
  const res = (v: WeightView, ch: number, out: number, updown?: 'up' | 'down'): ResBlock =>
    loadResBlock(v, { channels: ch, embChannels: emb, outChannels: out, useScaleShiftNorm: cfg.use_scale_shift_norm, up: updown === 'up', down: updown === 'down' }, extension);

  const inputBlocks: TimestepEmbedSequential[] = [];
  const blockView = (name: string, i: number, j: number): WeightView => view.scope(`${name}.${i}.${j}.`);
  inputBlocks.push([{ kind: 'Conv', ...loadConv2d(view.scope('input_blocks.0.'), '0', cfg.in_channels, mc, 3) }]);
  const chans = [mc];
  let ch = mc;
  let ds = 1;
  for (let level = 0; level < levels; level++) {
    for (let nr = 0; nr < nrb[level]!; nr++) {
      const i = inputBlocks.length;
      const layers: UNetLayer[] = [res(blockView('input_blocks', i, 0), ch, mult[level]! * mc)];
      ch = mult[level]! * mc;
      if (attnRes.has(ds) && (!cfg.num_attention_blocks || nr < cfg.num_attention_blocks[level]!)) {
        layers.push(attention(blockView('input_blocks', i, 1), ch, cfg.disable_self_attentions?.[level] ?? false, false));
      } else if (attnRes.has(ds)) {
        headsAt(ch); // the reference updates num_heads even when the block is skipped
      }
      inputBlocks.push(layers);
      chans.push(ch);
    }
    if (level !== levels - 1) {
      const i = inputBlocks.length;
      inputBlocks.push([cfg.resblock_updown ? res(blockView('input_blocks', i, 0), ch, ch, 'down') : loadDownsample(blockView('input_blocks', i, 0), ch, cfg.conv_resample, ch)]);
      chans.push(ch);
      ds *= 2;
    }
  }

  const middle: TimestepEmbedSequential = [
    res(view.scope('middle_block.0.'), ch, ch),
    attention(view.scope('middle_block.1.'), ch, cfg.disable_middle_self_attn, false),
    res(view.scope('middle_block.2.'), ch, ch),
  ];

  const outputBlocks: TimestepEmbedSequential[] = [];
  for (let level = levels - 1; level >= 0; level--) {
    for (let i = 0; i <= nrb[level]!; i++) {
      const idx = outputBlocks.length;
      const ich = chans.pop()!;
      const layers: UNetLayer[] = [res(blockView('output_blocks', idx, 0), ch + ich, mc * mult[level]!)];
      ch = mc * mult[level]!;
      if (attnRes.has(ds) && (!cfg.num_attention_blocks || i < cfg.num_attention_blocks[level]!)) {
        layers.push(attention(blockView('output_blocks', idx, 1), ch, cfg.disable_self_attentions?.[level] ?? false, true));
      } else if (attnRes.has(ds)) {
        headsAt(ch);
      }
      if (level > 0 && i === nrb[level]!) {
        const v = blockView('output_blocks', idx, layers.length);
        layers.push(cfg.resblock_updown ? res(v, ch, ch, 'up') : loadUpsample(v, ch, cfg.conv_resample, ch));
        ds = Math.floor(ds / 2);
      }
      outputBlocks.push(layers);
    }
  }

  const unet: UNet = {
    config: { ...config },
    extension: extension?.name,
    downFactor: 2 ** (levels - 1),
    contextDim,
    time_embed: loadTimeEmbed(view.scope('time_embed.'), mc, emb),
    input_blocks: inputBlocks,
    middle_block: middle,
    output_blocks: outputBlocks,
    out: { 0: loadGroupNorm(view, 'out.0', ch, 32, GROUP_NORM32_EPS), 2: loadConv2d(view, 'out.2', mc, cfg.out_channels, 3) },
  };
  view.assertAllUsed(extension ? `UNetModel with ${extension.name}` : 'UNetModel');
  return unet;
}

function stripNullish<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null)) as Partial<T>;
}

/** Options of {@link unetForward} / {@link unetForwardOps}. */
export interface UNetForwardOptions {
  /** Attention memory bound passed to every attention layer (each layer uses its own heads and scale). */
  attention?: AttentionBudget;
}

/** What every layer of a `TimestepEmbedSequential` receives besides its input. */
export interface UNetLayerEnv<T> {
  /** `time_embed` output [B, 4·model_channels]. */
  emb: T;
  /** Cross-attention context [B, M, context_dim] (spatial transformers). */
  context?: T | undefined;
  /** Conditioning of the ResBlock modulations (StableSR: struct_cond keyed by width). */
  cond?: ResBlockCond<T> | undefined;
  attention?: AttentionBudget | undefined;
}

/** One child of a `TimestepEmbedSequential` on any engine (no weight scope of its own: see {@link sequentialForwardOps}). */
export function unetLayerForwardOps<T>(ops: Ops<T>, layer: UNetLayer, h: T, env: UNetLayerEnv<T>): T {
  switch (layer.kind) {
    case 'Conv':
      return ops.conv2d(layer, h);
    case 'ResBlock':
      return resBlockForwardOps(ops, layer, h, env.emb, env.cond);
    case 'SpatialTransformer':
      return spatialTransformerForwardOps(ops, layer, h, env.context, env.attention);
    case 'AttentionBlock':
      return attentionBlockForwardOps(ops, layer, h, env.attention);
    case 'Downsample':
      return downsampleForwardOps(ops, layer, h);
    case 'Upsample':
      return upsampleForwardOps(ops, layer, h);
  }
}

/**
 * Runs a `TimestepEmbedSequential`'s layers, each in its own {@link Ops.scope} naming the layer (so host-held weights
 * are uploaded one layer at a time), releasing each intermediate (never `h` itself) as soon as it is consumed.
 */
export function sequentialForwardOps<T>(ops: Ops<T>, seq: readonly UNetLayer[], h: T, env: UNetLayerEnv<T>): T {
  let cur = h;
  for (const layer of seq) {
    const next = ops.scope(() => unetLayerForwardOps(ops, layer, cur, env), layer);
    if (cur !== h) ops.release(cur);
    cur = next;
  }
  return cur;
}

/**
 * `UNetModel.forward(x, timesteps, context)` (`UNetModelDualcondV2.forward(..., struct_cond)` with an extension),
 * written once against {@link Ops} (any engine).
 *
 * @param x map [B, H, W, in_channels]; H and W must be multiples of {@link UNet.downFactor}.
 * @param tEmb the sinusoidal timestep embedding [B, model_channels] ({@link timestepEmbedding}, computed on the host).
 * @param context cross-attention context [B, M, context_dim] (required with spatial transformers).
 * @param cond conditioning passed to every ResBlock modulation (StableSR: struct_cond keyed by width; required
 *   with an extension).
 * @returns the raw network output [B, H, W, out_channels] (ε or v, depending on the model).
 *
 * Intermediates are released layer by layer (only the skip activations are held), so peak memory is far
 * below a single scope over the whole network.
 */
export function unetForwardOps<T>(ops: Ops<T>, unet: UNet, x: T, tEmb: T, context: T | undefined, cond?: ResBlockCond<T>, opts: UNetForwardOptions = {}): T {
  const [b, h, w, c] = ops.shape(x) as [number, number, number, number];
  const inCh = unet.config.in_channels;
  if (c !== inCh) throw new Error(`U-Net: input has ${c} channels, the model expects in_channels ${inCh}`);
  if (h % unet.downFactor !== 0 || w % unet.downFactor !== 0) {
    throw new Error(`U-Net: input size ${h}×${w} must be a multiple of ${unet.downFactor} (2^(levels−1)) in both dimensions`);
  }
  const te = ops.shape(tEmb);
  const mc = unet.time_embed.modelChannels;
  if (te.length !== 2 || te[0] !== b || te[1] !== mc) {
    throw new Error(`U-Net: the timestep embedding has shape [${te.join(', ')}], the model needs [${b}, ${mc}] (batch × model_channels)`);
  }
  if (unet.contextDim !== undefined) {
    if (context === undefined) throw new Error('U-Net: this model has cross-attention and needs a context [B, M, context_dim]');
    const cs = ops.shape(context);
    const dims = typeof unet.contextDim === 'number' ? [unet.contextDim] : unet.contextDim;
    if (cs.length !== 3 || !dims.includes(cs[2]!)) {
      throw new Error(`U-Net: context width ${cs[cs.length - 1]} does not match the model's context_dim ${dims.join('/')} (context shape [${cs.join(', ')}])`);
    }
    if (cs[0] !== b) throw new Error(`U-Net: context batch ${cs[0]} ≠ input batch ${b}`);
  }
  if (unet.extension && cond === undefined) throw new Error(`U-Net: the ${unet.extension} modulation needs its conditioning (struct_cond), but none was given`);
  // Layer by layer, so that weights kept on the host (moveWeightsToHost) occupy the backend one layer at a time.
  const emb = ops.scope(() => timeEmbedForwardOps(ops, unet.time_embed, tEmb), unet.time_embed);
  const env: UNetLayerEnv<T> = { emb, context, cond, attention: opts.attention };
  const hs: T[] = [];
  let cur: T | undefined;
  try {
    let hIn = x;
    for (const blk of unet.input_blocks) {
      hIn = sequentialForwardOps(ops, blk, hIn, env);
      hs.push(hIn);
    }
    cur = sequentialForwardOps(ops, unet.middle_block, hIn, env);
    for (const blk of unet.output_blocks) {
      const skip = hs.pop()!;
      const cat = ops.concat([cur, skip]);
      ops.release(cur);
      ops.release(skip);
      cur = undefined;
      try {
        cur = sequentialForwardOps(ops, blk, cat, env);
      } finally {
        ops.release(cat);
      }
    }
    const done = cur;
    return ops.scope(() => ops.conv2d(unet.out[2], ops.silu(ops.groupNorm(unet.out[0], done))), unet.out);
  } finally {
    if (cur !== undefined) ops.release(cur);
    for (const s of hs) ops.release(s);
    ops.release(emb);
  }
}

/**
 * {@link unetForwardOps} on TensorFlow.js: NHWC `x`, one network timestep per batch row (a single value is used for
 * every row); the sinusoidal embedding is computed here. Returns NHWC [B, H, W, out_channels].
 */
export function unetForward(unet: UNet, x: tf.Tensor4D, timesteps: ArrayLike<number>, context?: tf.Tensor3D, cond?: ResBlockCond<tf.Tensor>, opts: UNetForwardOptions = {}): tf.Tensor4D {
  const tEmb = batchTimestepEmbedding(timesteps, x.shape[0], unet.time_embed.modelChannels, 'U-Net');
  try {
    return unetForwardOps(tfjsOps, unet, x, tEmb, context, cond, opts) as tf.Tensor4D;
  } finally {
    tEmb.dispose();
  }
}

/** Releases every tensor of the U-Net (extension modulations included). */
export function disposeUNet(unet: UNet): void {
  disposeModule(unet);
}
