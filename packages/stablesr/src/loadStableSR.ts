import {
  type BackendChoice,
  type BackendInfo,
  type EngineInfo,
  type EngineOptions,
  type WeightPlacement,
  type WeightView,
  type Weights,
  WeightFileError,
  initBackend,
  openWeights,
  resolveEngine,
} from '@stablesr/core';
import { PromptEncoder, findTextTower } from './promptEncoder.js';
import { type SRNetworks, assertStableSRCheckpoint, loadSRNetworks } from './srNetworks.js';
import { readConfigFile } from '@stablesr/unet';
import { STABLESR_PRESETS, type StableSRConfig, type StableSRPreset } from './stableSRConfig.js';
import { stableSRConfigFromWeights } from './stableSRConfigFromWeights.js';

/** Options of {@link StableSR.load}. The engine options choose what runs the networks (default: ONNX Runtime when it loads). */
export interface StableSRLoadOptions extends EngineOptions {
  /**
   * The StableSR diffusion checkpoint (`stablesr_000117.ckpt`, `stablesr_768v_000139.ckpt`, or a `.safetensors`
   * with the same keys): `model.diffusion_model.*` (U-Net with SPADE), `structcond_stage_model.*`,
   * `first_stage_model.*` and usually `cond_stage_model.*` (the OpenCLIP text tower).
   */
  checkpoint: string;
  /**
   * The CFW autoencoder (`vqgan_cfw_00011.ckpt`, keys `encoder.*`, `decoder.*` incl. `decoder.fusion_layer_*`).
   * Without it the first-stage decoder is used and `fidelity` has no effect.
   */
  cfw?: string;
  /**
   * Model configuration: a YAML/JSON file (the official `v2-finetune_text_T_512.yaml` layout), or an already parsed
   * object (official layout, its `model.params`, a fixture manifest's `config.model`, or a {@link StableSRConfig}).
   * Structural values it does not give (widths, depths, attention levels, `context_dim`, `num_fuse_block`, …) are
   * read off the weights; the rest (heads, schedule, parameterization) comes from `preset`.
   */
  config?: string | Record<string, unknown> | StableSRConfig;
  /**
   * The CFW autoencoder's configuration, which StableSR keeps apart from the model YAML (whose layout has no CFW
   * section): a YAML/JSON file in the layout of `configs/autoencoder/autoencoder_kl_64x64x4_resi.yaml`
   * (`model.params.{embed_dim, ddconfig}`), or the parsed object. Fields it leaves out (the released file has no
   * `num_fuse_block`) are read off the CFW weights. Default: the CFW weights alone.
   */
  cfwConfig?: string | Record<string, unknown>;
  /**
   * Built-in configuration when `config` is not given (or the base it is merged over). Default `'512'`:
   * the ε-prediction 512 model. The 768-v model (`stablesr_768v_000139.ckpt`) has the same tensor shapes
   * and cannot be told apart from the weights, so it needs `preset: '768v'` (or a config saying
   * `parameterization: v`); with the wrong preset it loads but produces wrong images.
   */
  preset?: StableSRPreset;
  /** OpenCLIP text tower weights, when the checkpoint has no `cond_stage_model.*` keys (keys `cond_stage_model.model.*` or `model.*`). */
  textEncoder?: string;
  /**
   * open_clip's vocabulary `bpe_simple_vocab_16e6.txt.gz` or a diffusers tokenizer folder. Needed only for
   * non-empty prompts and negative prompts: the default empty prompt's ids are fixed (`[49406, 49407, 0, …]`).
   */
  tokenizer?: string;
  /** tfjs backend (default: `STABLESR_BACKEND`, else auto). */
  backend?: BackendChoice;
  /**
   * Images / latents larger than this many pixels per side go through the VAE tile by tile (same result up to
   * float rounding, bounded memory). Default 512.
   */
  vaeTileSize?: number;
  /**
   * Where the networks' weights live: `backend`, `host` (JS memory; the U-Net is uploaded to the backend one
   * layer at a time, the time-aware encoder, VAE and CFW for each call), or `auto` (default): `host` on the wasm
   * backend when the U-Net exceeds 1 GiB. The released fp32 U-Net is 3.5 GiB and the wasm heap ends at 4 GiB
   * (holding packed copies of the weights it uses besides), so on wasm the released model runs from the host;
   * tfjs-node has no such limit. Building host weights switches tfjs to its cpu backend for a moment: do not run
   * other models while `load` runs.
   */
  weights?: WeightPlacement;
}

/** What {@link loadStableSRParts} builds: everything a {@link StableSR} instance owns. */
export interface LoadedStableSR {
  config: StableSRConfig;
  backend: BackendInfo;
  engine: EngineInfo;
  nets: SRNetworks;
  text: PromptEncoder;
  /** The weight files, open until the owner is disposed. */
  files: Weights[];
  hasCfw: boolean;
}

/**
 * Initialises the backend, opens the weight files (headers only; tensors are read while building the
 * networks), checks that the checkpoint is a StableSR one, loads U-Net + time-aware encoder + VAE (+ CFW)
 * strictly against the config, and computes the empty-prompt context. On failure everything built so far is released.
 */
export async function loadStableSRParts(opts: StableSRLoadOptions): Promise<LoadedStableSR> {
  if (!opts || typeof opts.checkpoint !== 'string' || opts.checkpoint === '') throw new Error('StableSR.load: option checkpoint (path of the StableSR checkpoint) is required');
  const backend = await initBackend(opts.backend);
  const engine = await resolveEngine(opts);
  const base = presetOf(opts);
  const files: Weights[] = [];
  let nets: SRNetworks | undefined;
  let text: PromptEncoder | undefined;
  try {
    const ckpt = openWeights(opts.checkpoint);
    files.push(ckpt);
    assertStableSRCheckpoint(ckpt, opts.checkpoint);
    let cfw: Weights | undefined;
    if (opts.cfw !== undefined) {
      cfw = openWeights(opts.cfw);
      files.push(cfw);
      if (!cfw.keys().some((k) => k.startsWith('decoder.fusion_layer_'))) {
        throw new WeightFileError(opts.cfw, 'is not a CFW autoencoder (no decoder.fusion_layer_* keys; expected vqgan_cfw_00011.ckpt)');
      }
    }
    const config = resolveConfig(opts, base, ckpt, cfw);
    let tower = findTextTower(ckpt);
    if (opts.textEncoder !== undefined) {
      const te = openWeights(opts.textEncoder);
      files.push(te);
      tower = findTextTower(te);
      if (!tower) throw new WeightFileError(opts.textEncoder, 'has no OpenCLIP text tower (expected keys cond_stage_model.model.token_embedding.weight or model.token_embedding.weight)');
    }
    if (!tower) {
      throw new WeightFileError(opts.checkpoint, 'has no OpenCLIP text tower (no cond_stage_model.* keys): pass the textEncoder option (a file with cond_stage_model.model.* keys)');
    }
    text = new PromptEncoder({ tower, config: config.cond_stage_config, engine, ...(opts.tokenizer !== undefined ? { tokenizer: opts.tokenizer } : {}) });
    // The default prompt is computed now (nothing else computes yet), so that a bad text tower fails at load time.
    (await text.encode('', { idle: true })).dispose();
    nets = await loadSRNetworks(config, ckpt, cfw, { engine, vaeTileSize: opts.vaeTileSize ?? 512, ...(opts.weights !== undefined ? { weights: opts.weights } : {}) });
    const contextDim = (config.unet_config as { context_dim?: unknown }).context_dim;
    if (typeof contextDim === 'number' && contextDim !== config.cond_stage_config.text_cfg.width) {
      throw new Error(`config: the U-Net's context_dim ${contextDim} differs from the text tower width ${config.cond_stage_config.text_cfg.width}`);
    }
    return { config, backend, engine, nets, text, files, hasCfw: cfw !== undefined };
  } catch (e) {
    nets?.dispose();
    text?.dispose();
    for (const f of files) f.close();
    throw e;
  }
}

function presetOf(opts: StableSRLoadOptions): StableSRConfig {
  const presetName = opts.preset ?? '512';
  const base = STABLESR_PRESETS[presetName];
  if (!base) throw new Error(`StableSR.load: option preset must be one of ${Object.keys(STABLESR_PRESETS).join(', ')}, got ${JSON.stringify(presetName)}`);
  return base;
}

/** The config given (files read here), completed from the weights, then the preset ({@link stableSRConfigFromWeights}). */
function resolveConfig(opts: StableSRLoadOptions, base: StableSRConfig, ckpt: WeightView, cfw: WeightView | undefined): StableSRConfig {
  const read = (c: string | object, what: string) => (typeof c === 'string' ? { raw: readConfigFile(c), source: c } : { raw: c, source: what });
  const main = opts.config === undefined ? undefined : read(opts.config, 'config');
  const cfwCfg = opts.cfwConfig === undefined ? undefined : read(opts.cfwConfig, 'cfwConfig');
  return stableSRConfigFromWeights({ config: main?.raw, source: main?.source, cfwConfig: cfwCfg?.raw, cfwSource: cfwCfg?.source, base }, ckpt, cfw);
}
