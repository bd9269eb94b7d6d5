import * as tf from '@tensorflow/tfjs-core';
import { type EngineInfo, TFJS_ENGINE, type WeightView, WeightFileError, buildModuleOn, runNetworkOnce } from '@stablesr/core';
import { ClipTokenizer, disposeFrozenOpenClipEmbedder, loadFrozenOpenClipEmbedder, openClipTextForwardOps } from '@stablesr/unet';
import { type StableSRConfig } from './stableSRConfig.js';

/** open_clip's `<start_of_text>` / `<end_of_text>` ids in its fixed 49408-token vocabulary (`bpe_simple_vocab_16e6`). */
export const OPEN_CLIP_START_ID = 49406;
export const OPEN_CLIP_END_ID = 49407;

/**
 * Token ids of the empty prompt `""` without a vocabulary: open_clip's `tokenize([""])` is
 * `[<start>, <end>, 0, 0, …]` by construction (no BPE piece in between, padding with 0).
 */
export function emptyPromptIds(contextLength: number): Int32Array {
  if (!Number.isInteger(contextLength) || contextLength < 2) throw new Error(`context_length must be an integer ≥ 2, got ${contextLength}`);
  const ids = new Int32Array(contextLength);
  ids[0] = OPEN_CLIP_START_ID;
  ids[1] = OPEN_CLIP_END_ID;
  return ids;
}

/**
 * Where the OpenCLIP text tower (`FrozenOpenCLIPEmbedder`, keys `model.token_embedding.weight`, …) lives in a
 * weight file: under `cond_stage_model.` (StableSR / SD-2.x checkpoints) or at the root. Undefined when absent.
 */
export function findTextTower(root: WeightView): WeightView | undefined {
  if (root.has('cond_stage_model.model.token_embedding.weight')) return root.scope('cond_stage_model.');
  if (root.has('model.token_embedding.weight')) return root;
  return undefined;
}

export interface PromptEncoderOptions {
  /** View at the tower's own scope (keys `model.*`). */
  tower: WeightView;
  config: StableSRConfig['cond_stage_config'];
  /** open_clip `bpe_simple_vocab_16e6.txt.gz` or a diffusers tokenizer folder; needed for non-empty prompts only. */
  tokenizer?: string;
  /** Embeddings kept per prompt (default 16). */
  cacheSize?: number;
  /** Engine the tower runs on (default: tfjs on the active backend). */
  engine?: EngineInfo;
}

/**
 * Prompt → `[1, context_length, width]` cross-attention context of StableSR (`cond_stage_model([prompt])`).
 * The tower's weights are loaded for each new prompt and released right after (the ViT-H tower is ~1.4 GB in
 * float32 and StableSR mostly uses the one empty prompt); embeddings are cached per prompt string.
 */
export class PromptEncoder {
  private readonly cache = new Map<string, tf.Tensor3D>();
  private tokenizer: ClipTokenizer | undefined;
  private disposed = false;

  constructor(private readonly opts: PromptEncoderOptions) {
    const cfg = opts.config.text_cfg;
    if (cfg.vocab_size <= OPEN_CLIP_END_ID) {
      throw new Error(`cond_stage_config: text_cfg.vocab_size ${cfg.vocab_size} is smaller than open_clip's vocabulary (${OPEN_CLIP_END_ID + 1} tokens)`);
    }
    // Built up front so that a bad tokenizer path fails at load time, not at the first prompt.
    if (opts.tokenizer !== undefined) this.tokenizer = ClipTokenizer.load(opts.tokenizer, { contextLength: cfg.context_length });
  }

  /** The context of `prompt` (a new tensor owned by the caller). */
  async encode(prompt: string, opts: { idle?: boolean } = {}): Promise<tf.Tensor3D> {
    if (this.disposed) throw new Error('PromptEncoder used after dispose()');
    let z = this.cache.get(prompt);
    if (!z) {
      z = await this.run(this.ids(prompt), opts.idle ?? false);
      if (this.cache.size >= (this.opts.cacheSize ?? 16)) {
        const oldest = this.cache.keys().next().value as string;
        this.cache.get(oldest)!.dispose();
        this.cache.delete(oldest);
      }
      this.cache.set(prompt, z);
    }
    return tf.clone(z);
  }

  /** Releases the cached embeddings. */
  dispose(): void {
    this.disposed = true;
    for (const z of this.cache.values()) z.dispose();
    this.cache.clear();
  }

  private ids(prompt: string): Int32Array {
    const contextLength = this.opts.config.text_cfg.context_length;
    if (this.tokenizer === undefined) {
      if (prompt === '') return emptyPromptIds(contextLength);
      throw new Error(
        `prompt ${JSON.stringify(prompt.length > 40 ? `${prompt.slice(0, 40)}…` : prompt)} needs the tokenizer vocabulary: pass the tokenizer option ` +
          '(open_clip bpe_simple_vocab_16e6.txt.gz, or a diffusers tokenizer folder); only the empty prompt works without it',
      );
    }
    return this.tokenizer.tokenize([prompt])[0]!;
  }

  /**
   * Loads the tower for one prompt and encodes it. `idle` (nothing else computes, as while loading): for ONNX Runtime
   * the tower is built on the host (tfjs's cpu backend, switched to for the load) instead of in the wasm heap, which
   * never shrinks again (1.3 GB for ViT-H). Otherwise it loads on the active backend, which other work may be using.
   */
  private async run(ids: Int32Array, idle: boolean): Promise<tf.Tensor3D> {
    const { config } = this.opts;
    const engine = this.opts.engine ?? TFJS_ENGINE;
    let tower;
    try {
      tower = await buildModuleOn(idle && engine.engine === 'onnxruntime', () => loadFrozenOpenClipEmbedder({ text_cfg: config.text_cfg, layer: config.layer }, this.opts.tower));
    } catch (e) {
      if (e instanceof WeightFileError) throw e;
      throw new WeightFileError(this.opts.tower.origin, `cannot load the OpenCLIP text tower (${(e as Error).message})`);
    }
    const idsT = tf.tensor2d(ids, [1, ids.length], 'int32');
    try {
      const def = { name: 'OpenCLIP text tower', module: tower, dtypes: ['int32'] as const, forward: <T>(ops: import('@stablesr/core').Ops<T>, [x]: readonly T[]) => [openClipTextForwardOps(ops, tower, x!)] };
      return (await runNetworkOnce(def, engine, [idsT]))[0] as tf.Tensor3D;
    } finally {
      idsT.dispose();
      disposeFrozenOpenClipEmbedder(tower);
    }
  }
}
