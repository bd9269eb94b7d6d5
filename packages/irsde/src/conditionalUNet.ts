import * as tf from '@tensorflow/tfjs-core';
import { type Conv2d, type LayerNorm, type Linear, type Ops, type WeightView, buildModule, disposeModule, loadConv2d, loadLinear } from '@stablesr/core';

/** `ConditionalUNet(in_nc, out_nc, nf, depth, upscale)` constructor parameters (`DenoisingUNet_arch.py`), field for field. */
export interface ConditionalUNetConfig {
  in_nc: number;
  out_nc: number;
  nf: number;
  /** Levels; the official SR model uses 4. Default 4. */
  depth?: number;
  /** Stored but unused by the reference (the network is resolution-preserving). Default 1. */
  upscale?: number;
  /**
   * A stablesr extension, not a reference parameter: the network runs on the r×-smaller grid of pixel-unshuffled
   * inputs (r² times the channels, {@link Ops.spaceToDepth}) and its output is shuffled back, so a step costs about
   * 1/r² of the full-resolution network's. `in_nc` and `out_nc` stay the image's channels. Default 1 (the reference).
   */
  pixel_unshuffle?: number;
}

/** Reference constructor defaults of `ConditionalUNet`. */
export const CONDITIONAL_UNET_DEFAULTS = { depth: 4, upscale: 1, pixel_unshuffle: 1 } as const;

/** `LinearAttention` heads × channels per head (the reference's defaults, fixed for every level). */
const HEADS = 4;
const DIM_HEAD = 32;

/** Stateless entries of an `nn.Sequential` that hold no weights but keep their index in the key tree. */
type Marker<K extends string> = { readonly kind: K };

/** `Block`: conv (no bias), optional scale/shift from the time embedding, SiLU. */
export interface IRBlock {
  readonly proj: Conv2d;
}

/** `ResBlock(conv=default_conv, act=SiLU)` with a time embedding: `block2(block1(x, scale_shift)) + res_conv(x)`. */
export interface IRResBlock {
  readonly mlp: readonly [Marker<'SiLU'>, Linear];
  readonly block1: IRBlock;
  readonly block2: IRBlock;
  /** 1×1 conv (no bias) when the channel count changes, else identity. */
  readonly res_conv: Conv2d | undefined;
}

/** `LinearAttention(dim)`: 1×1 conv to q, k, v (no bias), linear attention, 1×1 conv + channel LayerNorm. */
export interface IRLinearAttention {
  readonly to_qkv: Conv2d;
  readonly to_out: readonly [Conv2d, LayerNorm];
}

/** `Residual(PreNorm(dim, LinearAttention(dim)))`: `x + fn(norm(x))`, laid out as `fn.norm`, `fn.fn`. */
export interface IRAttention {
  readonly fn: { readonly norm: LayerNorm; readonly fn: IRLinearAttention };
}

/** `Upsample`: nearest ×2 then a 3×3 conv (`nn.Sequential(nn.Upsample, nn.Conv2d)`). */
export type IRUpsample = readonly [Marker<'Upsample'>, Conv2d];

/** One level of the down path: two ResBlocks, attention, then `Downsample` (4×4 stride 2) or a 3×3 conv at the last level. */
export type IRDownLevel = readonly [IRResBlock, IRResBlock, IRAttention, Conv2d];
/** One level of the up path: two ResBlocks on concatenated skips, attention, then `Upsample` or a 3×3 conv at level 0. */
export type IRUpLevel = readonly [IRResBlock, IRResBlock, IRAttention, Conv2d | IRUpsample];

/**
 * The IR-SDE SR network `ConditionalUNet` as its state-dict key tree (`downs[0][2].fn.fn.to_qkv` holds
 * `downs.0.2.fn.fn.to_qkv.weight`), so the authors' released `.pth` files load unchanged.
 */
export interface ConditionalUNet {
  readonly config: Readonly<Required<ConditionalUNetConfig>>;
  readonly init_conv: Conv2d;
  readonly time_mlp: readonly [Marker<'SinusoidalPosEmb'>, Linear, Marker<'GELU'>, Linear];
  readonly downs: readonly IRDownLevel[];
  readonly ups: readonly IRUpLevel[];
  readonly mid_block1: IRResBlock;
  readonly mid_attn: IRAttention;
  readonly mid_block2: IRResBlock;
  readonly final_res_block: IRResBlock;
  readonly final_conv: Conv2d;
}

/**
 * Builds `ConditionalUNet` from its config and a view whose keys are the state dict's (prefix "" for the released
 * files). Strict: every key used, none missing or mis-shaped; a failed load releases what it read.
 */
export function loadConditionalUNet(config: ConditionalUNetConfig, view: WeightView): ConditionalUNet {
  const cfg = { ...CONDITIONAL_UNET_DEFAULTS, ...Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined && v !== null)) } as Required<ConditionalUNetConfig>;
  for (const k of ['in_nc', 'out_nc', 'nf', 'depth', 'pixel_unshuffle'] as const) {
    if (!Number.isInteger(cfg[k]) || cfg[k] < 1) throw new Error(`ConditionalUNet: ${k} must be a positive integer, got ${String(cfg[k])}`);
  }
  const net = buildModule(() => build(cfg, view));
  try {
    view.assertAllUsed('ConditionalUNet');
  } catch (e) {
    disposeModule(net);
    throw e;
  }
  return net;
}

function build(cfg: Required<ConditionalUNetConfig>, view: WeightView): ConditionalUNet {
  const { nf, depth } = cfg;
  const blocks = cfg.pixel_unshuffle ** 2;
  const timeDim = nf * 4;
  const defaultConv = (v: WeightView, name: string, ci: number, co: number, k = 3): Conv2d => loadConv2d(v, name, ci, co, k, { bias: false });
  const res = (v: WeightView, ci: number, co: number): IRResBlock => ({
    mlp: [{ kind: 'SiLU' }, loadLinear(v, 'mlp.1', timeDim, co * 2)],
    block1: { proj: defaultConv(v, 'block1.proj', ci, co) },
    block2: { proj: defaultConv(v, 'block2.proj', co, co) },
    res_conv: ci !== co ? defaultConv(v, 'res_conv', ci, co, 1) : undefined,
  });
  const attn = (v: WeightView, dim: number): IRAttention => ({
    fn: {
      norm: channelNorm(v, 'fn.norm', dim),
      fn: {
        to_qkv: defaultConv(v, 'fn.fn.to_qkv', dim, HEADS * DIM_HEAD * 3, 1),
        to_out: [loadConv2d(v, 'fn.fn.to_out.0', HEADS * DIM_HEAD, dim, 1), channelNorm(v, 'fn.fn.to_out.1', dim)],
      },
    },
  });
  const downs: IRDownLevel[] = [];
  const ups: IRUpLevel[] = [];
  for (let i = 0; i < depth; i++) {
    const dimIn = nf * 2 ** i;
    const dimOut = nf * 2 ** (i + 1);
    const d = view.scope(`downs.${i}.`);
    downs.push([
      res(d.scope('0.'), dimIn, dimIn),
      res(d.scope('1.'), dimIn, dimIn),
      attn(d.scope('2.'), dimIn),
      i !== depth - 1 ? loadConv2d(d, '3', dimIn, dimOut, 4, { stride: 2, padding: 1 }) : defaultConv(d, '3', dimIn, dimOut),
    ]);
    // ups is built in reverse (`insert(0, …)`): level i sits at index depth − 1 − i.
    const u = view.scope(`ups.${depth - 1 - i}.`);
    ups.unshift([
      res(u.scope('0.'), dimOut + dimIn, dimOut),
      res(u.scope('1.'), dimOut + dimIn, dimOut),
      attn(u.scope('2.'), dimOut),
      i !== 0 ? ([{ kind: 'Upsample' }, loadConv2d(u, '3.1', dimOut, dimIn, 3)] as const) : defaultConv(u, '3', dimOut, dimIn),
    ]);
  }
  const mid = nf * 2 ** depth;
  return {
    config: cfg,
    init_conv: defaultConv(view, 'init_conv', cfg.in_nc * 2 * blocks, nf, 7),
    time_mlp: [{ kind: 'SinusoidalPosEmb' }, loadLinear(view, 'time_mlp.1', nf, timeDim), { kind: 'GELU' }, loadLinear(view, 'time_mlp.3', timeDim, timeDim)],
    downs,
    ups,
    mid_block1: res(view.scope('mid_block1.'), mid, mid),
    mid_attn: attn(view.scope('mid_attn.'), mid),
    mid_block2: res(view.scope('mid_block2.'), mid, mid),
    final_res_block: res(view.scope('final_res_block.'), nf * 2, nf),
    final_conv: loadConv2d(view, 'final_conv', nf, cfg.out_nc * blocks, 3),
  };
}

/** The reference's bias-free channel `LayerNorm` (`g` of shape [1, C, 1, 1], eps 1e-5 in float32) as a LayerNorm with β = 0. */
function channelNorm(view: WeightView, name: string, dim: number): LayerNorm {
  const g = view.get(`${name}.g`, [1, dim, 1, 1]);
  return { dim, eps: 1e-5, gamma: tf.reshape(g, [dim]) as tf.Tensor1D, beta: tf.zeros([dim]) as tf.Tensor1D };
}

function resBlockForward<T>(ops: Ops<T>, m: IRResBlock, x: T, t: T): T {
  return ops.scope(() => {
    const [scale, shift] = ops.split(ops.linear(m.mlp[1], ops.silu(t)), 2);
    const h1 = ops.silu(ops.addVector(ops.mulVector(ops.conv2d(m.block1.proj, x), ops.addScalar(scale!, 1)), shift!));
    const h2 = ops.silu(ops.conv2d(m.block2.proj, h1));
    return ops.add(h2, m.res_conv ? ops.conv2d(m.res_conv, x) : x);
  });
}

function attentionForward<T>(ops: Ops<T>, m: IRAttention, x: T): T {
  return ops.scope(() => {
    const [, h, w] = ops.shape(x) as [number, number, number, number];
    const a = m.fn.fn;
    const qkv = ops.toTokens(ops.conv2d(a.to_qkv, ops.layerNorm(m.fn.norm, x))); // [B, HW, 3·heads·32]
    const [q, k, v] = ops.split(qkv, 3);
    // v/(h·w) as the reference, before the context sum.
    const out = ops.linearAttention(q!, k!, ops.scale(v!, 1 / (h * w)), { heads: HEADS, scale: DIM_HEAD ** -0.5 }); // [B, HW, heads·32]
    const y = ops.layerNorm(a.to_out[1], ops.conv2d(a.to_out[0], ops.fromTokens(out, h, w)));
    return ops.add(y, x);
  });
}

/**
 * `ConditionalUNet.forward(xt, cond, time)` against {@link Ops}: maps NHWC, `tEmb` = {@link sinusoidalPosEmb} of
 * the timesteps [B, nf] (host math). Sizes need not be multiples of 2^depth: the input is reflect-padded at the
 * bottom/right and the output cropped back, as the reference does. Returns the noise prediction [B, H, W, out_nc].
 */
export function conditionalUNetForward<T>(ops: Ops<T>, m: ConditionalUNet, xt: T, cond: T, tEmb: T): T {
  const r = m.config.pixel_unshuffle;
  if (r === 1) return forwardOnGrid(ops, m, xt, cond, tEmb);
  const [, H, W] = ops.shape(xt) as [number, number, number, number];
  const padH = (r - (H % r)) % r;
  const padW = (r - (W % r)) % r;
  const blocks = (v: T): T => ops.spaceToDepth(padH || padW ? ops.reflectPad(v, [[0, padH], [0, padW]]) : v, r);
  const y = ops.depthToSpace(forwardOnGrid(ops, m, blocks(xt), blocks(cond), tEmb), r);
  return padH || padW ? ops.crop(y, 0, 0, H, W) : y;
}

/** The reference forward on the grid the network sees (the image itself, or its pixel-unshuffled blocks). */
function forwardOnGrid<T>(ops: Ops<T>, m: ConditionalUNet, xt: T, cond: T, tEmb: T): T {
  const [, H, W] = ops.shape(xt) as [number, number, number, number];
  const s = 2 ** m.config.depth;
  const padH = (s - (H % s)) % s;
  const padW = (s - (W % s)) % s;
  let x = ops.concat([ops.sub(xt, cond), cond]);
  if (padH || padW) x = ops.reflectPad(x, [[0, padH], [0, padW]]);
  x = ops.conv2d(m.init_conv, x);
  const x0 = x;
  const t = ops.scope(() => ops.linear(m.time_mlp[3], ops.gelu(ops.linear(m.time_mlp[1], tEmb))));
  const skips: T[] = [];
  for (const [b1, b2, attn, down] of m.downs) {
    x = resBlockForward(ops, b1, x, t);
    skips.push(x);
    x = attentionForward(ops, attn, resBlockForward(ops, b2, x, t));
    skips.push(x);
    x = ops.conv2d(down, x);
  }
  x = resBlockForward(ops, m.mid_block2, attentionForward(ops, m.mid_attn, resBlockForward(ops, m.mid_block1, x, t)), t);
  for (const [b1, b2, attn, up] of m.ups) {
    x = resBlockForward(ops, b1, ops.concat([x, skips.pop()!]), t);
    x = attentionForward(ops, attn, resBlockForward(ops, b2, ops.concat([x, skips.pop()!]), t));
    x = Array.isArray(up) ? ops.conv2d((up as IRUpsample)[1], ops.upsampleNearest2x(x)) : ops.conv2d(up as Conv2d, x);
  }
  x = ops.conv2d(m.final_conv, resBlockForward(ops, m.final_res_block, ops.concat([x, x0]), t));
  return padH || padW ? ops.crop(x, 0, 0, H, W) : x;
}

/** Releases every tensor of the network. */
export function disposeConditionalUNet(m: ConditionalUNet): void {
  disposeModule(m);
}
