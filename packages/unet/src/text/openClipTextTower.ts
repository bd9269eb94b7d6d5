import * as tf from '@tensorflow/tfjs-core';
import { type LayerNorm, type Linear, type Ops, type WeightView, WeightFileError, disposeLayerNorm, disposeLinear, loadLayerNorm, loadLinear, outInToInOut, tfjsOps } from '@stablesr/core';
import { type ClipActivation, type PreNormBlockParts, preNormBlockOps } from './transformerBlock.js';
import { tidyLoad } from './tidyLoad.js';
import { assertOnlyAllowedUnused } from './unusedWeights.js';

/** open_clip v2.0.2 `CLIPTextCfg` (the `text_cfg` of a model config), the fields the text tower uses. */
export interface OpenClipTextCfg {
  context_length: number;
  vocab_size: number;
  width: number;
  heads: number;
  layers: number;
  /** MLP hidden width / width (open_clip `Transformer(mlp_ratio=4.0)`); default 4. */
  mlp_ratio?: number;
}

/** Which hidden state `FrozenOpenCLIPEmbedder` returns: after all blocks, or skipping the last one (SD 2.x). */
export type OpenClipLayer = 'last' | 'penultimate';

/** `FrozenOpenCLIPEmbedder(arch, version, device, max_length, freeze, layer)` parameters plus the model-level `quick_gelu`. */
export interface FrozenOpenClipEmbedderConfig {
  text_cfg: OpenClipTextCfg;
  /** Default "last" as the reference constructor; SD 2.x and StableSR configs use "penultimate". */
  layer?: OpenClipLayer;
  /** open_clip model cfg `quick_gelu` (OpenAI-trained towers); default false = exact GELU. */
  quick_gelu?: boolean;
}

/** `nn.MultiheadAttention` with its packed `in_proj_weight` rows [0:W) q, [W:2W) k, [2W:3W) v split at load time. */
export interface MultiheadAttention {
  readonly num_heads: number;
  readonly in_proj: { readonly q: Linear; readonly k: Linear; readonly v: Linear };
  readonly out_proj: Linear;
}

/** open_clip `ResidualAttentionBlock` (`transformer.resblocks.<n>.*`). */
export interface ResidualAttentionBlock {
  readonly ln_1: LayerNorm;
  readonly attn: MultiheadAttention;
  readonly ln_2: LayerNorm;
  readonly mlp: { readonly c_fc: Linear; readonly c_proj: Linear };
}

/** The text half of open_clip's `CLIP` (`model.*` of `FrozenOpenCLIPEmbedder`, the visual tower deleted). */
export interface OpenClipTextModel {
  readonly text_cfg: OpenClipTextCfg;
  readonly activation: ClipActivation;
  readonly token_embedding: { readonly weight: tf.Tensor2D };
  /** `[context_length, width]`. */
  readonly positional_embedding: tf.Tensor2D;
  /** Only the blocks the chosen layer runs are loaded. */
  readonly transformer: { readonly resblocks: readonly ResidualAttentionBlock[] };
  readonly ln_final: LayerNorm;
  // The reference's non-persistent `attn_mask` buffer is not held: the attention is causal by construction.
}

/** StableSR / SD 2.x `ldm.modules.encoders.modules.FrozenOpenCLIPEmbedder`. */
export interface FrozenOpenClipEmbedder {
  readonly layer: OpenClipLayer;
  /** 0 for "last", 1 for "penultimate": number of final blocks skipped. */
  readonly layer_idx: number;
  readonly model: OpenClipTextModel;
}

function loadMultiheadAttention(view: WeightView, width: number, heads: number): MultiheadAttention {
  const w = view.data('in_proj_weight', [3 * width, width]);
  const b = view.data('in_proj_bias', [3 * width]);
  if (!(w instanceof Float32Array) || !(b instanceof Float32Array)) throw new WeightFileError(view.origin, 'expected floating-point in_proj tensors', `${view.prefix}in_proj_weight`);
  const part = (i: number): Linear => ({
    inFeatures: width,
    outFeatures: width,
    weight: outInToInOut(w.subarray(i * width * width, (i + 1) * width * width), [width, width]),
    bias: tf.tensor1d(b.slice(i * width, (i + 1) * width)),
  });
  return { num_heads: heads, in_proj: { q: part(0), k: part(1), v: part(2) }, out_proj: loadLinear(view, 'out_proj', width, width) };
}

function loadResidualAttentionBlock(view: WeightView, cfg: OpenClipTextCfg): ResidualAttentionBlock {
  const hidden = Math.round(cfg.width * (cfg.mlp_ratio ?? 4));
  return {
    ln_1: loadLayerNorm(view, 'ln_1', cfg.width),
    attn: loadMultiheadAttention(view.scope('attn.'), cfg.width, cfg.heads),
    ln_2: loadLayerNorm(view, 'ln_2', cfg.width),
    mlp: { c_fc: loadLinear(view, 'mlp.c_fc', cfg.width, hidden), c_proj: loadLinear(view, 'mlp.c_proj', hidden, cfg.width) },
  };
}

function checkConfig(cfg: OpenClipTextCfg, layer: string): void {
  for (const f of ['context_length', 'vocab_size', 'width', 'heads', 'layers'] as const) {
    if (!Number.isInteger(cfg[f]) || cfg[f] <= 0) throw new Error(`open_clip text_cfg.${f} must be a positive integer, got ${String(cfg[f])}`);
  }
  if (cfg.width % cfg.heads !== 0) throw new Error(`open_clip text_cfg: width ${cfg.width} does not split into ${cfg.heads} heads`);
  if (layer !== 'last' && layer !== 'penultimate') throw new Error(`FrozenOpenCLIPEmbedder layer must be "last" or "penultimate", got ${JSON.stringify(layer)}`);
}

function buildFrozenOpenClipEmbedder(config: FrozenOpenClipEmbedderConfig, view: WeightView): FrozenOpenClipEmbedder {
  const cfg = config.text_cfg;
  const layer = config.layer ?? 'last';
  checkConfig(cfg, layer);
  const layer_idx = layer === 'last' ? 0 : 1;
  const runBlocks = cfg.layers - layer_idx;
  const m = view.scope('model.');
  const model: OpenClipTextModel = {
    text_cfg: cfg,
    activation: config.quick_gelu ? 'quick_gelu' : 'gelu',
    token_embedding: { weight: m.get('token_embedding.weight', [cfg.vocab_size, cfg.width]) as tf.Tensor2D },
    positional_embedding: m.get('positional_embedding', [cfg.context_length, cfg.width]) as tf.Tensor2D,
    transformer: { resblocks: Array.from({ length: runBlocks }, (_, i) => loadResidualAttentionBlock(m.scope(`transformer.resblocks.${i}.`), cfg)) },
    ln_final: loadLayerNorm(m, 'ln_final', cfg.width),
  };
  // The checkpoint must hold the blocks the config says exist, even those this layer skips.
  for (let i = runBlocks; i < cfg.layers; i++) {
    if (!m.has(`transformer.resblocks.${i}.ln_1.weight`)) throw new WeightFileError(view.origin, `missing block ${i} of ${cfg.layers} (text_cfg.layers does not fit this checkpoint)`, `${m.prefix}transformer.resblocks.${i}.ln_1.weight`);
  }
  const skipped = (k: string) => Array.from({ length: cfg.layers - runBlocks }, (_, j) => `model.transformer.resblocks.${runBlocks + j}.`).some((p) => k.startsWith(p));
  assertOnlyAllowedUnused(view, (k) => k === 'model.text_projection' || k === 'model.logit_scale' || k === 'model.attn_mask' || skipped(k), `FrozenOpenCLIPEmbedder (${cfg.layers} layers, layer "${layer}")`);
  return { layer, layer_idx, model };
}

/**
 * Loads `FrozenOpenCLIPEmbedder` from the view at its own scope (keys `model.token_embedding.weight`, … — the
 * `cond_stage_model.` section of an SD 2.x / StableSR checkpoint). The skipped last block (penultimate),
 * `model.text_projection` and `model.logit_scale` are left unread; any other unread key is an error.
 */
export function loadFrozenOpenClipEmbedder(config: FrozenOpenClipEmbedderConfig, view: WeightView): FrozenOpenClipEmbedder {
  return tidyLoad(() => buildFrozenOpenClipEmbedder(config, view));
}

function blockParts(m: OpenClipTextModel, r: ResidualAttentionBlock): PreNormBlockParts {
  return { norm1: r.ln_1, attention: { heads: r.attn.num_heads, ...r.attn.in_proj, out: r.attn.out_proj }, norm2: r.ln_2, fcIn: r.mlp.c_fc, fcOut: r.mlp.c_proj, activation: m.activation };
}

/**
 * `FrozenOpenCLIPEmbedder.encode_with_transformer` written once against {@link Ops}: token ids `[B, context_length]`
 * (int32 values) → `[B, context_length, width]`. x = token_embedding[ids] + positional_embedding (the whole table,
 * broadcast over the batch); blocks 0 … layers−1−layer_idx with causal attention; ln_final (after the penultimate
 * block for "penultimate", as the reference). The embedder's weights are made available for the call
 * (`ops.scope(…, e)`: host-held weights are uploaded on tfjs).
 */
export function openClipTextForwardOps<T>(ops: Ops<T>, e: FrozenOpenClipEmbedder, ids: T): T {
  const m = e.model;
  const shape = ops.shape(ids);
  if (shape.length !== 2) throw new Error(`FrozenOpenCLIPEmbedder: token ids must be [batch, ${m.text_cfg.context_length}], got [${shape}]`);
  if (shape[1] !== m.text_cfg.context_length) throw new Error(`FrozenOpenCLIPEmbedder: token rows have ${shape[1]} ids, the tower's context_length is ${m.text_cfg.context_length}`);
  return ops.scope(() => {
    const tokens = ops.embedding(m.token_embedding.weight, ids);
    let x = ops.add(tokens, ops.weight(m.positional_embedding)); // [B, T, W]
    ops.release(tokens);
    for (const r of m.transformer.resblocks) {
      const next = preNormBlockOps(ops, blockParts(m, r), x);
      ops.release(x);
      x = next;
    }
    return ops.layerNorm(m.ln_final, x);
  }, e);
}

/** {@link openClipTextForwardOps} on TensorFlow.js: ids `[N, context_length]` (int32) → `[N, context_length, width]`. */
export function frozenOpenClipEncode(e: FrozenOpenClipEmbedder, ids: tf.Tensor2D): tf.Tensor3D {
  if (ids.dtype !== 'int32') throw new Error(`FrozenOpenCLIPEmbedder: token ids must be int32, got ${ids.dtype}`);
  return openClipTextForwardOps(tfjsOps, e, ids) as tf.Tensor3D;
}

/** Releases every tensor of the embedder. */
export function disposeFrozenOpenClipEmbedder(e: FrozenOpenClipEmbedder): void {
  const m = e.model;
  tf.dispose([m.token_embedding.weight, m.positional_embedding]);
  for (const r of m.transformer.resblocks) {
    disposeLayerNorm(r.ln_1);
    disposeLayerNorm(r.ln_2);
    for (const l of [r.attn.in_proj.q, r.attn.in_proj.k, r.attn.in_proj.v, r.attn.out_proj, r.mlp.c_fc, r.mlp.c_proj]) disposeLinear(l);
  }
  disposeLayerNorm(m.ln_final);
}
