import * as tf from '@tensorflow/tfjs-core';
import { type LayerNorm, type Linear, type Ops, type WeightView, WeightFileError, disposeLayerNorm, disposeLinear, loadLayerNorm, loadLinear, tfjsOps } from '@stablesr/core';
import { type ClipActivation, type PreNormBlockParts, preNormBlockOps } from './transformerBlock.js';
import { tidyLoad } from './tidyLoad.js';
import { assertOnlyAllowedUnused } from './unusedWeights.js';

/** Hugging Face `CLIPTextConfig`, the fields the text model uses (names as in its `config.json`). */
export interface ClipTextConfig {
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  max_position_embeddings: number;
  /** "quick_gelu" (OpenAI CLIP, SD 1.x) or "gelu" (exact erf GELU, OpenCLIP-converted SD 2.x `text_encoder/`). */
  hidden_act: string;
  /** Default 1e-5. */
  layer_norm_eps?: number;
}

/**
 * Which hidden state to return, as ldm's `FrozenCLIPEmbedder(layer, layer_idx)`: "last" = `last_hidden_state`
 * (after `final_layer_norm`); "hidden" = `hidden_states[layer_idx]` (index 0 = embeddings, i = after layer i;
 * negative counts from the end; no final norm, e.g. SD 1.x "clip skip").
 */
export interface ClipTextModelOptions {
  layer?: 'last' | 'hidden';
  layer_idx?: number;
}

/** HF `CLIPAttention` (`self_attn.*`). */
export interface ClipAttention {
  readonly num_heads: number;
  readonly q_proj: Linear;
  readonly k_proj: Linear;
  readonly v_proj: Linear;
  readonly out_proj: Linear;
}

/** HF `CLIPEncoderLayer` (`text_model.encoder.layers.<n>.*`). */
export interface ClipEncoderLayer {
  readonly self_attn: ClipAttention;
  readonly layer_norm1: LayerNorm;
  readonly mlp: { readonly fc1: Linear; readonly fc2: Linear };
  readonly layer_norm2: LayerNorm;
}

/** HF `CLIPTextModel` (keys `text_model.*`): SD 1.x `cond_stage_model.transformer.*`, diffusers `text_encoder/`. */
export interface ClipTextModel {
  readonly config: ClipTextConfig;
  readonly activation: ClipActivation;
  readonly layer: 'last' | 'hidden';
  /** Number of encoder layers that run (only those are loaded). */
  readonly runLayers: number;
  readonly text_model: {
    readonly embeddings: { readonly token_embedding: { readonly weight: tf.Tensor2D }; readonly position_embedding: { readonly weight: tf.Tensor2D } };
    readonly encoder: { readonly layers: readonly ClipEncoderLayer[] };
    /** Undefined when `layer` is "hidden" (not applied, not loaded). */
    readonly final_layer_norm: LayerNorm | undefined;
  };
  // No causal mask is held: the attention is causal by construction (each engine builds its own).
}

function activationOf(act: string): ClipActivation {
  if (act === 'quick_gelu' || act === 'gelu') return act;
  throw new Error(`CLIPTextConfig.hidden_act ${JSON.stringify(act)} is not supported (use "quick_gelu" or "gelu")`);
}

function loadClipEncoderLayer(view: WeightView, c: ClipTextConfig): ClipEncoderLayer {
  const w = c.hidden_size;
  const eps = c.layer_norm_eps ?? 1e-5;
  return {
    self_attn: {
      num_heads: c.num_attention_heads,
      q_proj: loadLinear(view, 'self_attn.q_proj', w, w),
      k_proj: loadLinear(view, 'self_attn.k_proj', w, w),
      v_proj: loadLinear(view, 'self_attn.v_proj', w, w),
      out_proj: loadLinear(view, 'self_attn.out_proj', w, w),
    },
    layer_norm1: loadLayerNorm(view, 'layer_norm1', w, eps),
    mlp: { fc1: loadLinear(view, 'mlp.fc1', w, c.intermediate_size), fc2: loadLinear(view, 'mlp.fc2', c.intermediate_size, w) },
    layer_norm2: loadLayerNorm(view, 'layer_norm2', w, eps),
  };
}

function buildClipTextModel(config: ClipTextConfig, view: WeightView, opts: ClipTextModelOptions = {}): ClipTextModel {
  for (const f of ['vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'max_position_embeddings'] as const) {
    if (!Number.isInteger(config[f]) || config[f] <= 0) throw new Error(`CLIPTextConfig.${f} must be a positive integer, got ${String(config[f])}`);
  }
  if (config.hidden_size % config.num_attention_heads !== 0) throw new Error(`CLIPTextConfig: hidden_size ${config.hidden_size} does not split into ${config.num_attention_heads} heads`);
  const activation = activationOf(config.hidden_act);
  const layer = opts.layer ?? 'last';
  const L = config.num_hidden_layers;
  let runLayers = L;
  if (layer === 'hidden') {
    const idx = opts.layer_idx;
    if (idx === undefined || !Number.isInteger(idx) || idx < -(L + 1) || idx > L) throw new Error(`FrozenCLIPEmbedder layer_idx must be an integer in [${-(L + 1)}, ${L}] for layer "hidden", got ${String(idx)}`);
    runLayers = idx < 0 ? L + 1 + idx : idx;
  } else if (layer !== 'last') {
    throw new Error(`FrozenCLIPEmbedder layer must be "last" or "hidden", got ${JSON.stringify(layer)}`);
  }
  const tm = view.scope('text_model.');
  const w = config.hidden_size;
  const model: ClipTextModel = {
    config,
    activation,
    layer,
    runLayers,
    text_model: {
      embeddings: {
        token_embedding: { weight: tm.get('embeddings.token_embedding.weight', [config.vocab_size, w]) as tf.Tensor2D },
        position_embedding: { weight: tm.get('embeddings.position_embedding.weight', [config.max_position_embeddings, w]) as tf.Tensor2D },
      },
      encoder: { layers: Array.from({ length: runLayers }, (_, i) => loadClipEncoderLayer(tm.scope(`encoder.layers.${i}.`), config)) },
      final_layer_norm: layer === 'last' ? loadLayerNorm(tm, 'final_layer_norm', w, config.layer_norm_eps ?? 1e-5) : undefined,
    },
  };
  for (let i = runLayers; i < L; i++) {
    if (!tm.has(`encoder.layers.${i}.layer_norm1.weight`)) throw new WeightFileError(view.origin, `missing layer ${i} of ${L} (num_hidden_layers does not fit this checkpoint)`, `${tm.prefix}encoder.layers.${i}.layer_norm1.weight`);
  }
  const skipped = (k: string) =>
    (layer === 'hidden' && k.startsWith('text_model.final_layer_norm.')) ||
    Array.from({ length: L - runLayers }, (_, j) => `text_model.encoder.layers.${runLayers + j}.`).some((p) => k.startsWith(p));
  assertOnlyAllowedUnused(view, (k) => k === 'text_model.embeddings.position_ids' || skipped(k), `CLIPTextModel (${L} layers)`);
  return model;
}

/**
 * Loads a HF `CLIPTextModel` from the view at its own scope (keys `text_model.embeddings.token_embedding.weight`, …).
 * For an SD 1.x checkpoint pass `view.scope('cond_stage_model.transformer.')`. Layers beyond the requested hidden
 * state and the `position_ids` buffer are left unread; any other unread key is an error.
 */
export function loadClipTextModel(config: ClipTextConfig, view: WeightView, opts: ClipTextModelOptions = {}): ClipTextModel {
  return tidyLoad(() => buildClipTextModel(config, view, opts));
}

function layerParts(m: ClipTextModel, l: ClipEncoderLayer): PreNormBlockParts {
  const a = l.self_attn;
  return { norm1: l.layer_norm1, attention: { heads: a.num_heads, q: a.q_proj, k: a.k_proj, v: a.v_proj, out: a.out_proj }, norm2: l.layer_norm2, fcIn: l.mlp.fc1, fcOut: l.mlp.fc2, activation: m.activation };
}

/**
 * HF `CLIPTextModel.forward` written once against {@link Ops}: token ids `[B, max_position_embeddings]` (int32
 * values) → the selected hidden state `[B, max_position_embeddings, hidden_size]`: `last_hidden_state` (all
 * layers, then `final_layer_norm`) for layer "last", `hidden_states[layer_idx]` (no final norm) for "hidden".
 * x = token_embedding[ids] + position_embedding (the whole table, broadcast over the batch), then the loaded
 * layers with causal attention. Rows must be padded to the table's length; {@link clipTextForward} (tfjs) also
 * takes shorter rows. The model's weights are made available for the call (`ops.scope(…, m)`).
 */
export function clipTextModelForwardOps<T>(ops: Ops<T>, m: ClipTextModel, ids: T): T {
  const shape = ops.shape(ids);
  const rows = m.config.max_position_embeddings;
  if (shape.length !== 2) throw new Error(`CLIPTextModel: token ids must be [batch, ${rows}], got [${shape}]`);
  if (shape[1] !== rows) throw new Error(`CLIPTextModel: rows of ${shape[1]} ids, the position table has ${rows} (pad ids to max_position_embeddings, as the tokenizer does)`);
  return ops.scope(() => {
    const e = m.text_model.embeddings;
    const tokens = ops.embedding(e.token_embedding.weight, ids);
    let x = ops.add(tokens, ops.weight(e.position_embedding.weight)); // [B, T, W]
    ops.release(tokens);
    for (const l of m.text_model.encoder.layers) {
      const next = preNormBlockOps(ops, layerParts(m, l), x);
      ops.release(x);
      x = next;
    }
    const fln = m.text_model.final_layer_norm;
    return fln ? ops.layerNorm(fln, x) : x;
  }, m);
}

/**
 * {@link clipTextModelForwardOps} on TensorFlow.js: token ids `[N, T]` (int32, T ≤ max_position_embeddings) →
 * the selected hidden state `[N, T, hidden_size]`. Rows shorter than the table run on a view of the model whose
 * position table is its first T rows (sliced for the call, as HF's `position_ids[:, :T]`); causal attention makes
 * them equal to the first T positions of padded rows.
 */
export function clipTextForward(m: ClipTextModel, ids: tf.Tensor2D): tf.Tensor3D {
  const [, t] = ids.shape;
  const rows = m.config.max_position_embeddings;
  if (t > rows) throw new Error(`CLIPTextModel: ${t} tokens exceed max_position_embeddings ${rows}`);
  if (ids.dtype !== 'int32') throw new Error(`CLIPTextModel: token ids must be int32, got ${ids.dtype}`);
  if (t === rows) return clipTextModelForwardOps(tfjsOps, m, ids) as tf.Tensor3D;
  // The slice is taken inside the model's scope (host-held weights are up) and freed with it.
  return tfjsOps.scope(() => {
    const e = m.text_model.embeddings;
    const position_embedding = { weight: tf.slice(e.position_embedding.weight, [0, 0], [t, m.config.hidden_size]) };
    const short: ClipTextModel = { ...m, config: { ...m.config, max_position_embeddings: t }, text_model: { ...m.text_model, embeddings: { ...e, position_embedding } } };
    return clipTextModelForwardOps(tfjsOps, short, ids);
  }, m) as tf.Tensor3D;
}

/** Releases every tensor of the model. */
export function disposeClipTextModel(m: ClipTextModel): void {
  const tm = m.text_model;
  tf.dispose([tm.embeddings.token_embedding.weight, tm.embeddings.position_embedding.weight]);
  for (const l of tm.encoder.layers) {
    for (const lin of [l.self_attn.q_proj, l.self_attn.k_proj, l.self_attn.v_proj, l.self_attn.out_proj, l.mlp.fc1, l.mlp.fc2]) disposeLinear(lin);
    disposeLayerNorm(l.layer_norm1);
    disposeLayerNorm(l.layer_norm2);
  }
  if (tm.final_layer_norm) disposeLayerNorm(tm.final_layer_norm);
}
