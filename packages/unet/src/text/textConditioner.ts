import * as tf from '@tensorflow/tfjs-core';
import { type CompiledNetwork, type EngineInfo, type Ops, TFJS_ENGINE, type WeightView, compileNetwork } from '@stablesr/core';
import { type TokenizerSource } from './bpeVocabulary.js';
import { ClipTokenizer } from './clipTokenizer.js';
import { type ClipTextConfig, type ClipTextModel, clipTextModelForwardOps, disposeClipTextModel, loadClipTextModel } from './clipTextModel.js';
import {
  type FrozenOpenClipEmbedder,
  type OpenClipLayer,
  type OpenClipTextCfg,
  disposeFrozenOpenClipEmbedder,
  loadFrozenOpenClipEmbedder,
  openClipTextForwardOps,
} from './openClipTextTower.js';

/**
 * Which text tower conditions the U-Net, with its reference parameters:
 * - `open_clip`: SD 2.x / StableSR `FrozenOpenCLIPEmbedder` (weights view at `cond_stage_model.`, keys `model.*`);
 * - `hf_clip`: HF `CLIPTextModel` (SD 1.x `FrozenCLIPEmbedder`, diffusers `text_encoder/`; weights view at the model's
 *   own scope, keys `text_model.*`; a view whose keys are `transformer.text_model.*` is scoped automatically).
 */
export type TextEncoderSpec =
  | { type: 'open_clip'; text_cfg: OpenClipTextCfg; layer?: OpenClipLayer; quick_gelu?: boolean }
  | { type: 'hf_clip'; config: ClipTextConfig; layer?: 'last' | 'hidden'; layer_idx?: number };

/** Parameters of {@link TextConditioner.load}. */
export interface TextConditionerOptions {
  encoder: TextEncoderSpec;
  weights: WeightView;
  /** A built tokenizer, or where to read one (open_clip BPE file or HF tokenizer folder, padding per family). */
  tokenizer: ClipTokenizer | TokenizerSource;
  /** Engine the tower runs on (default: tfjs on the active backend). */
  engine?: EngineInfo;
}

type Tower = { type: 'open_clip'; model: FrozenOpenClipEmbedder } | { type: 'hf_clip'; model: ClipTextModel };

/**
 * Prompt → cross-attention context: tokenizer + text tower. `encode(prompts)` returns `[N, contextLength, width]`.
 * The embedding of the empty prompt (used for every unconditional / negative row of classifier-free guidance) is
 * computed once and reused; rows whose tokens equal the empty prompt's take it from that cache.
 * Owns its tensors: call {@link TextConditioner.dispose} when done.
 */
export class TextConditioner {
  /** Ids per prompt row (the tower's context length). */
  readonly contextLength: number;
  /** Width of each context vector (U-Net `context_dim`). */
  readonly width: number;
  readonly tokenizer: ClipTokenizer;
  private readonly tower: Tower;
  private readonly emptyIds: Int32Array;
  private emptyCache: Promise<tf.Tensor3D> | undefined;
  /** The resolved {@link emptyCache}, so that dispose can release it at once. */
  private emptyTensor: tf.Tensor3D | undefined;
  private disposed = false;
  private readonly network: CompiledNetwork;

  private constructor(tower: Tower, tokenizer: ClipTokenizer, contextLength: number, width: number, engine: EngineInfo) {
    this.tower = tower;
    this.network = compileNetwork({ name: `text tower (${tower.type})`, module: tower.model, dtypes: ['int32'], forward: (ops, [ids]) => [this.encodeIdsOps(ops, ids!)] }, engine);
    this.tokenizer = tokenizer;
    this.contextLength = contextLength;
    this.width = width;
    this.emptyIds = tokenizer.tokenize([''])[0]!;
  }

  /** Builds the tokenizer (when given a source) and loads the tower; checks that both agree on length and vocabulary. */
  static load(opts: TextConditionerOptions): TextConditioner {
    const spec = opts.encoder;
    const contextLength = spec.type === 'open_clip' ? spec.text_cfg.context_length : spec.config.max_position_embeddings;
    const vocabSize = spec.type === 'open_clip' ? spec.text_cfg.vocab_size : spec.config.vocab_size;
    const tokenizer = opts.tokenizer instanceof ClipTokenizer ? opts.tokenizer : ClipTokenizer.load(opts.tokenizer, { contextLength });
    if (tokenizer.contextLength !== contextLength) {
      throw new Error(`tokenizer ${tokenizer.origin} makes rows of ${tokenizer.contextLength} ids but the text tower's context length is ${contextLength}`);
    }
    const maxId = Math.max(tokenizer.startTokenId, tokenizer.endTokenId, tokenizer.padTokenId);
    if (maxId >= vocabSize) throw new Error(`tokenizer ${tokenizer.origin} uses id ${maxId} but the text tower's vocabulary has ${vocabSize} entries`);
    let tower: Tower;
    let width: number;
    if (spec.type === 'open_clip') {
      tower = { type: 'open_clip', model: loadFrozenOpenClipEmbedder({ text_cfg: spec.text_cfg, layer: spec.layer ?? 'last', quick_gelu: spec.quick_gelu ?? false }, opts.weights) };
      width = spec.text_cfg.width;
    } else {
      const nested = opts.weights.keys().some((k) => k.startsWith('transformer.text_model.'));
      const view = nested ? opts.weights.scope('transformer.') : opts.weights;
      tower = { type: 'hf_clip', model: loadClipTextModel(spec.config, view, { layer: spec.layer ?? 'last', layer_idx: spec.layer_idx }) };
      width = spec.config.hidden_size;
    }
    return new TextConditioner(tower, tokenizer, contextLength, width, opts.engine ?? TFJS_ENGINE);
  }

  /** Runs the tower on token ids `[N, contextLength]` (int32) → `[N, contextLength, width]`; no caching. */
  async encodeIds(ids: tf.Tensor2D): Promise<tf.Tensor3D> {
    this.assertLive();
    if (ids.dtype !== 'int32') throw new Error(`text tower: token ids must be int32, got ${ids.dtype}`);
    // A tower kept on the host (moveWeightsToHost) is uploaded for the call by the forward's scope: prompts are encoded rarely.
    return (await this.network.run([ids]))[0] as tf.Tensor3D;
  }

  /** {@link encodeIds} on any engine: the tower's generic forward on ids `[N, contextLength]` → `[N, contextLength, width]`. */
  encodeIdsOps<T>(ops: Ops<T>, ids: T): T {
    this.assertLive();
    const tower = this.tower;
    return tower.type === 'open_clip' ? openClipTextForwardOps(ops, tower.model, ids) : clipTextModelForwardOps(ops, tower.model, ids);
  }

  /** The empty prompt's embedding `[1, contextLength, width]` (a new tensor; the cached one stays owned here). */
  async emptyEmbedding(): Promise<tf.Tensor3D> {
    return tf.clone(await this.cachedEmpty());
  }

  /**
   * Tokenizes (truncating prompts longer than the context, as the reference) and encodes `prompts` →
   * `[N, contextLength, width]`. Empty-prompt rows come from the cache; the rest run through the tower in one batch.
   */
  async encode(prompts: readonly string[]): Promise<tf.Tensor3D> {
    this.assertLive();
    if (prompts.length === 0) throw new Error('TextConditioner.encode: no prompts');
    const rows = this.tokenizer.tokenize(prompts);
    const isEmpty = rows.map((r) => r.every((id, i) => id === this.emptyIds[i]));
    const todo = rows.filter((_, i) => !isEmpty[i]);
    const empty = isEmpty.some(Boolean) ? await this.cachedEmpty() : undefined;
    if (todo.length === 0) return tf.tile(empty!, [rows.length, 1, 1]);
    const encoded = await this.encodeRows(todo);
    if (!empty) return encoded;
    return tf.tidy(() => {
      // Row 0 of `all` is the cached empty embedding, rows 1… the encoded prompts in order.
      const all = tf.concat([empty, encoded], 0);
      let next = 1;
      const order = isEmpty.map((e) => (e ? 0 : next++));
      const out = tf.gather(all, tf.tensor1d(order, 'int32')) as tf.Tensor3D;
      encoded.dispose();
      return out;
    });
  }

  /** Releases the tower's weights and the cached empty-prompt embedding. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.emptyTensor?.dispose();
    // Still being computed: released when it arrives.
    if (!this.emptyTensor) void this.emptyCache?.then((t) => t.dispose(), () => {});
    this.emptyCache = undefined;
    this.emptyTensor = undefined;
    void this.network.dispose();
    if (this.tower.type === 'open_clip') disposeFrozenOpenClipEmbedder(this.tower.model);
    else disposeClipTextModel(this.tower.model);
  }

  private async encodeRows(rows: readonly Int32Array[]): Promise<tf.Tensor3D> {
    const flat = new Int32Array(rows.length * this.contextLength);
    rows.forEach((r, i) => flat.set(r, i * this.contextLength));
    const ids = tf.tensor2d(flat, [rows.length, this.contextLength], 'int32');
    try {
      return await this.encodeIds(ids);
    } finally {
      ids.dispose();
    }
  }

  private cachedEmpty(): Promise<tf.Tensor3D> {
    if (!this.emptyCache) {
      const p = this.encodeRows([this.emptyIds]);
      p.then(
        (t) => {
          if (this.emptyCache === p) this.emptyTensor = t;
        },
        () => {
          if (this.emptyCache === p) this.emptyCache = undefined;
        },
      );
      this.emptyCache = p;
    }
    return this.emptyCache;
  }

  private assertLive(): void {
    if (this.disposed) throw new Error('TextConditioner used after dispose()');
  }
}
