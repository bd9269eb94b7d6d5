import * as tf from '@tensorflow/tfjs-core';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  type BackendChoice,
  type CompiledNetwork,
  type EngineInfo,
  type EngineOptions,
  type NoiseSource,
  type WeightPlacement,
  type ProgressCallback,
  type WeightView,
  type Weights,
  WeightFileError,
  buildModuleOn,
  float32Bytes,
  initBackend,
  compileNetwork,
  openWeights,
  resolveEngine,
  weightsOnHost,
} from '@stablesr/core';
import { type AutoencoderKL, diffusersVaeView, disposeAutoencoderKL, downsamplingFactor, loadAutoencoderKL, vaeDecoderNetwork } from '@stablesr/vae';
import { diffusersUNetView } from '../model/diffusersKeys.js';
import { UNET_DEFAULTS, type UNetConfig } from '../model/unetConfig.js';
import { type UNet, disposeUNet, loadUNet } from '../model/unetModel.js';
import { type UNetNetwork, compileUNet } from '../model/unetNetwork.js';
import { getSampler } from '../samplers/registry.js';
import { type SamplerStepCallback } from '../samplers/types.js';
import { type DiffusionSchedule, registerSchedule } from '../schedule/registerSchedule.js';
import { type ClipTextConfig } from '../text/clipTextModel.js';
import { ClipTokenizer } from '../text/clipTokenizer.js';
import { type TextEncoderSpec, TextConditioner } from '../text/textConditioner.js';
import { TXT2IMG_DEFAULTS, generateLatents } from './generateLatents.js';
import {
  type TextToLatentConfig,
  type TextToLatentPreset,
  loadTextToLatentConfigFile,
  parseTextToLatentConfig,
  textEncoderWidth,
  textToLatentPreset,
} from './textToLatentConfig.js';

/** Parameters of {@link TextToLatent.load}. */
/** Loading options; the engine options choose what runs the networks (default: ONNX Runtime when it loads). */
export interface TextToLatentLoadOptions extends EngineOptions {
  /**
   * Single-file SD checkpoint (`.ckpt` / `.safetensors`) holding `model.diffusion_model.*` and usually
   * `first_stage_model.*` and `cond_stage_model.*`; or a diffusers pipeline folder (`unet/`, `vae/`, `text_encoder/`,
   * `tokenizer/`) or `unet/` folder, read through the model packages' key tables. The model configuration still comes
   * from `config` / `preset` (the weight shapes are checked against it).
   */
  checkpoint: string;
  /** Model configuration: a YAML/JSON file in the official layout, or an already parsed object. Default: the preset. */
  config?: string | TextToLatentConfig | Record<string, unknown>;
  /** Built-in configuration (`512` = SD 2.1 base ε, `768v` = SD 2.1 v); with `config`, the fallback for sections it lacks. Default `512`. */
  preset?: TextToLatentPreset;
  /**
   * Text tower weights when the checkpoint has no `cond_stage_model.*`: a file with `cond_stage_model.*` or `model.*`
   * (open_clip tower) keys, or HF `CLIPTextModel` weights / a diffusers `text_encoder/` folder (with its `config.json`).
   */
  textEncoder?: string;
  /** open_clip `bpe_simple_vocab_16e6.txt.gz`, a HF/diffusers tokenizer folder, or a built tokenizer. Default: a diffusers pipeline's `tokenizer/`. */
  tokenizer?: string | ClipTokenizer;
  /** First-stage VAE weights (`first_stage_model.*`, a standalone LDM autoencoder, or diffusers `vae/`); default: the checkpoint. */
  vae?: string;
  /** tfjs backend to initialise (default: the one already chosen, else auto). */
  backend?: BackendChoice;
  /**
   * Where the weights live: `backend`, `host` (JS memory; the U-Net uploaded one layer at a time), or `auto`
   * (default): `host` on the wasm backend when the U-Net exceeds 1 GiB, as SD 2.1's 3.5 GiB fp32 U-Net does (the
   * wasm heap ends at 4 GiB); the text tower and the VAE then live on the host too and are uploaded per call.
   */
  weights?: WeightPlacement;
}

/** Parameters of {@link TextToLatent.generate}. */
export interface TextToLatentGenerateOptions {
  /** One prompt per sample, or one for all `batchSize` samples. Default "". */
  prompt?: string | string[];
  /** Prompt of the unconditional guidance branch (default "", as txt2img.py). */
  negativePrompt?: string | string[];
  /** Sampling steps (default 50). */
  steps?: number;
  /** Classifier-free guidance scale; 1 = no guidance batch (default 9). */
  guidanceScale?: number;
  /** Image size in pixels (default `image_size · f` of the config: 512 or 768); must fit the VAE and U-Net downsampling. */
  width?: number;
  height?: number;
  /** `ddim` (default), `ddpm`, `dpmpp-2m` or `euler-a`. */
  sampler?: string;
  /** DDIM / Euler-ancestral η (default 0 for DDIM). */
  eta?: number;
  /** Samples (default: number of prompts). */
  batchSize?: number;
  /** Seed of x_T and the step noise when no `noise` is given (default: random). */
  seed?: number;
  /** Source of x_T (`x_T`) and per-step noise (`step`), e.g. a fixture's recorded draws. */
  noise?: NoiseSource;
  /** Also decode the latents with the first-stage VAE (default false). */
  decode?: boolean;
  onProgress?: ProgressCallback;
  /** Sees every sampler step (x, pred_x0, model output); do not dispose the tensors. */
  onStep?: SamplerStepCallback;
  signal?: AbortSignal;
}

/** What {@link TextToLatent.generate} returns; the caller disposes the tensors. */
export interface TextToLatentResult {
  /** Sampler output `[B, H/f, W/f, C]` (NHWC), before the `1/scale_factor` of decoding. */
  latents: tf.Tensor4D;
  /** `[B, H, W, 3]` in [−1, 1] (not clamped) when `decode` was asked for. */
  decoded?: tf.Tensor4D;
  /** `clamp((decoded + 1) / 2, 0, 1)` when `decode` was asked for. */
  image?: tf.Tensor4D;
}

const isDir = (p: string): boolean => existsSync(p) && statSync(p).isDirectory();
const hasPrefix = (view: WeightView, p: string): boolean => view.keys().some((k) => k.startsWith(p));

/**
 * The configuration {@link TextToLatent.load} would use for `opts` (preset, then `config` over it), without
 * opening any weights: lets a caller check generation options before the slow part.
 */
export function resolveTextToLatentConfig(opts: Pick<TextToLatentLoadOptions, 'config' | 'preset'>): TextToLatentConfig {
  const base = textToLatentPreset(opts.preset ?? '512');
  const c = opts.config;
  if (c === undefined) return base;
  if (typeof c === 'string') return loadTextToLatentConfigFile(c, base);
  return parseTextToLatentConfig(c, 'config', base);
}

/** The U-Net's weights under the original key names: `model.diffusion_model.*`, or a diffusers `unet/` through its key table. */
function unetView(w: Weights, path: string, config: UNetConfig): WeightView {
  if (hasPrefix(w, 'model.diffusion_model.')) return w.scope('model.diffusion_model.');
  if (w.has('unet.conv_in.weight')) return diffusersUNetView(w.scope('unet.'), config);
  if (w.has('conv_in.weight') && hasPrefix(w, 'down_blocks.')) return diffusersUNetView(w, config);
  const sample = w.keys().slice(0, 3).join(', ');
  throw new WeightFileError(path, `no model.diffusion_model.* tensors and no diffusers unet/: not a Stable Diffusion checkpoint (keys start with: ${sample || 'nothing'})`);
}

/** `epsilon` / `v_prediction` of a diffusers pipeline's `scheduler/scheduler_config.json`, when there is one. */
function diffusersPrediction(dir: string): { value: 'eps' | 'v'; file: string } | undefined {
  const file = join(dir, 'scheduler', 'scheduler_config.json');
  if (!existsSync(file)) return undefined;
  let t: unknown;
  try {
    t = (JSON.parse(readFileSync(file, 'utf8')) as { prediction_type?: unknown }).prediction_type;
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (t === undefined || t === 'epsilon') return { value: 'eps', file };
  if (t === 'v_prediction') return { value: 'v', file };
  throw new Error(`${file}: prediction_type ${JSON.stringify(t)} is not supported (epsilon or v_prediction)`);
}

/** The autoencoder's weights wherever they sit, or undefined when the file holds none. */
function vaeView(w: Weights): WeightView | undefined {
  if (hasPrefix(w, 'first_stage_model.')) return w.scope('first_stage_model.');
  if (w.has('vae.decoder.conv_in.weight')) return diffusersVaeView(w.scope('vae.'));
  if (hasPrefix(w, 'encoder.down_blocks.') || hasPrefix(w, 'decoder.up_blocks.')) return diffusersVaeView(w);
  if (w.has('decoder.conv_in.weight') && w.has('post_quant_conv.weight')) return w;
  return undefined;
}

function readHfTextConfig(dir: string): ClipTextConfig | undefined {
  for (const p of [join(dir, 'config.json'), join(dir, 'text_encoder', 'config.json')]) {
    if (!existsSync(p)) continue;
    try {
      return JSON.parse(readFileSync(p, 'utf8')) as ClipTextConfig;
    } catch (e) {
      throw new Error(`${p}: not valid JSON (${(e as Error).message})`);
    }
  }
  return undefined;
}

/**
 * The text tower's weights and its spec. open_clip towers sit at `cond_stage_model.` (checkpoint) or at the root
 * (`model.*`); HF `CLIPTextModel` weights (SD 1.x `cond_stage_model.transformer.*`, diffusers `text_encoder/`) need
 * an HF spec: the config's, or the `config.json` beside diffusers weights (SD 2.x diffusers towers are HF-converted).
 */
function textView(w: Weights, path: string, spec: TextEncoderSpec, separate: boolean): { view: WeightView; spec: TextEncoderSpec } {
  let view: WeightView | undefined;
  if (hasPrefix(w, 'cond_stage_model.')) view = w.scope('cond_stage_model.');
  else if (hasPrefix(w, 'text_encoder.')) view = w.scope('text_encoder.');
  else if (separate && (w.has('model.token_embedding.weight') || hasPrefix(w, 'text_model.') || hasPrefix(w, 'transformer.text_model.'))) view = w;
  if (!view) {
    if (separate && w.has('token_embedding.weight')) {
      throw new WeightFileError(path, 'a bare open_clip model file (token_embedding.weight at the top level) is not supported; use the checkpoint\'s cond_stage_model.* tensors or a file with model.* / cond_stage_model.* keys');
    }
    throw new WeightFileError(path, separate ? 'no text encoder tensors (expected cond_stage_model.*, model.token_embedding.weight, text_model.* or a diffusers text_encoder/)' : 'the checkpoint has no cond_stage_model.* tensors (text encoder); give the text encoder weights separately (textEncoder / --text-encoder)');
  }
  const hf = view.keys().some((k) => k.startsWith('text_model.') || k.startsWith('transformer.text_model.'));
  if (!hf) {
    if (spec.type !== 'open_clip') throw new WeightFileError(path, `holds an open_clip text tower but the config describes an HF CLIP text model`);
    return { view, spec };
  }
  const folderCfg = isDir(path) ? readHfTextConfig(path) : undefined;
  if (folderCfg) return { view, spec: { type: 'hf_clip', config: folderCfg, layer: 'last' } };
  if (spec.type === 'hf_clip') return { view, spec };
  throw new WeightFileError(path, 'holds an HF CLIPTextModel (text_model.*) but the config describes an open_clip tower and no config.json was found beside the weights');
}

/**
 * Text-to-latent generation with a Stable Diffusion 2.x (or 1.x) checkpoint, as `scripts/txt2img.py`:
 * prompt → text tower → cross-attention context → U-Net sampled with classifier-free guidance → latents,
 * optionally decoded by the first-stage VAE. Load once with {@link TextToLatent.load}, call
 * {@link TextToLatent.generate} any number of times, then {@link TextToLatent.dispose}.
 */
export class TextToLatent {
  /** The resolved model configuration. */
  readonly config: TextToLatentConfig;
  /** Image → latent downsampling factor of the VAE (8). */
  readonly downsampling: number;
  /** Image sides must be multiples of this: VAE factor × U-Net 2^(levels−1). */
  readonly sizeMultiple: number;
  /** The engine that runs the networks. */
  readonly engine: EngineInfo;
  private readonly unet: UNet;
  private readonly unetNet: UNetNetwork;
  private readonly text: TextConditioner;
  private readonly vae: AutoencoderKL | undefined;
  private readonly vaeDecoder: CompiledNetwork | undefined;
  private readonly schedule: DiffusionSchedule;
  private disposed = false;

  private constructor(config: TextToLatentConfig, engine: EngineInfo, unet: UNet, text: TextConditioner, vae: AutoencoderKL | undefined) {
    this.config = config;
    this.engine = engine;
    this.unet = unet;
    this.unetNet = compileUNet(unet, engine);
    this.text = text;
    this.vae = vae;
    this.vaeDecoder = vae && compileNetwork(vaeDecoderNetwork(vae), engine);
    const { downsampling, multiple } = sizeFactors(config);
    this.downsampling = downsampling;
    this.sizeMultiple = multiple;
    this.schedule = scheduleOf(config);
  }

  /**
   * Opens the weight files lazily (headers first; only the tensors the models need are read), builds the
   * U-Net, the text conditioner and (when the weights hold one) the VAE, and closes the files again.
   * Configuration mismatches (text width ≠ U-Net `context_dim`, latent channels) are reported before any
   * tensor is read; missing, unexpected or mis-shaped tensors are errors naming the file and key.
   */
  static async load(opts: TextToLatentLoadOptions): Promise<TextToLatent> {
    if (opts.backend !== undefined) await initBackend(opts.backend);
    const engine = await resolveEngine(opts);
    const config = resolveTextToLatentConfig(opts);
    const pipelineDir = isDir(opts.checkpoint) ? opts.checkpoint : undefined;
    const tokenizer = opts.tokenizer ?? (pipelineDir && isDir(join(pipelineDir, 'tokenizer')) ? join(pipelineDir, 'tokenizer') : undefined);
    if (tokenizer === undefined) {
      throw new Error('TextToLatent.load: a tokenizer is required (`tokenizer`: open_clip\'s bpe_simple_vocab_16e6.txt.gz or a HF/diffusers tokenizer folder)');
    }
    const prediction = pipelineDir ? diffusersPrediction(pipelineDir) : undefined;
    if (prediction && prediction.value !== config.parameterization) {
      throw new Error(`${prediction.file} says the model predicts ${prediction.value} but the configuration says ${config.parameterization} (choose the matching config / preset, e.g. 768v for v-prediction)`);
    }
    const opened = new Map<string, Weights>();
    const open = (path: string): Weights => {
      let w = opened.get(path);
      if (!w) {
        w = openWeights(path);
        opened.set(path, w);
      }
      return w;
    };
    let unet: UNet | undefined;
    let text: TextConditioner | undefined;
    let vae: AutoencoderKL | undefined;
    try {
      const ckpt = open(opts.checkpoint);
      const uView = unetView(ckpt, opts.checkpoint, config.unet_config);
      const textPath = opts.textEncoder ?? opts.checkpoint;
      const t = textView(open(textPath), textPath, config.cond_stage_config, opts.textEncoder !== undefined);
      const vaePath = opts.vae ?? opts.checkpoint;
      const vView = vaeView(open(vaePath));
      if (opts.vae !== undefined && !vView) throw new WeightFileError(opts.vae, 'no autoencoder tensors (expected first_stage_model.*, encoder.* / decoder.* or a diffusers vae/)');

      const u = config.unet_config;
      const ctx = u.context_dim;
      const width = textEncoderWidth(t.spec);
      const dims = ctx === undefined || ctx === null ? [] : typeof ctx === 'number' ? [ctx] : [...ctx];
      if (dims.length && !dims.includes(width)) {
        throw new Error(`the text encoder's width ${width} does not match unet_config.context_dim ${dims.join('/')} (the configs of ${textPath} and ${opts.checkpoint} do not belong together)`);
      }
      if (u.in_channels !== config.channels) throw new Error(`unet_config.in_channels ${u.in_channels} ≠ the model's latent channels ${config.channels}`);
      if (config.first_stage_config.embed_dim !== config.channels) throw new Error(`first_stage_config.embed_dim ${config.first_stage_config.embed_dim} ≠ the model's latent channels ${config.channels}`);

      // Host weights are built on the cpu backend (nothing enters the backend while loading); each call uploads
      // what it needs: the U-Net one layer at a time, the text tower and the VAE whole.
      // ONNX Runtime reads every network's weights from the host.
      const onHost = engine.engine === 'onnxruntime' || weightsOnHost(opts.weights, float32Bytes(uView));
      unet = await buildModuleOn(onHost, () => loadUNet(u, uView));
      text = await buildModuleOn(onHost, () => TextConditioner.load({ encoder: t.spec, weights: t.view, tokenizer, engine }));
      if (vView) vae = await buildModuleOn(onHost, () => loadAutoencoderKL(config.first_stage_config, vView, { scaleFactor: config.scale_factor }));
      return new TextToLatent(config, engine, unet, text, vae);
    } catch (e) {
      if (unet) disposeUNet(unet);
      text?.dispose();
      if (vae) disposeAutoencoderKL(vae);
      throw e;
    } finally {
      // Every tensor is materialised by now; the files are not needed any more.
      for (const w of opened.values()) w.close();
    }
  }

  /** Whether a first-stage VAE was loaded (needed for `decode`). */
  get canDecode(): boolean {
    return this.vae !== undefined;
  }

  /**
   * Generates latents for `prompt` (see {@link TextToLatentGenerateOptions} for defaults). Options are checked
   * before any work: the sampler name, the image size against {@link sizeMultiple}, and `decode` against the VAE.
   */
  async generate(opts: TextToLatentGenerateOptions = {}): Promise<TextToLatentResult> {
    if (this.disposed) throw new Error('TextToLatent used after dispose()');
    const { sampler: samplerName, width, height } = checkTextToLatentOptions(this.config, opts, this.schedule);
    const f = this.downsampling;
    if (opts.decode && !this.vae) throw new Error('decode needs the first-stage VAE, but the checkpoint has no first_stage_model.* tensors; give the VAE weights (vae / --vae)');
    const vae = this.vae;
    return generateLatents({
      unet: (x, t, c) => this.unetNet.run(x, t, c),
      parameterization: this.config.parameterization,
      text: this.text,
      ...(opts.prompt !== undefined && { prompt: opts.prompt }),
      ...(opts.negativePrompt !== undefined && { negativePrompt: opts.negativePrompt }),
      ...(opts.guidanceScale !== undefined && { guidanceScale: opts.guidanceScale }),
      ...(opts.steps !== undefined && { steps: opts.steps }),
      sampler: samplerName,
      ...(opts.eta !== undefined && { eta: opts.eta }),
      width,
      height,
      ...(opts.batchSize !== undefined && { batchSize: opts.batchSize }),
      latentChannels: this.config.channels,
      downsampleFactor: f,
      schedule: this.schedule,
      ...(opts.seed !== undefined && { seed: opts.seed }),
      ...(opts.noise !== undefined && { noise: opts.noise }),
      ...(opts.decode && this.vaeDecoder ? { decode: async (z: tf.Tensor4D) => (await this.vaeDecoder!.run([z]))[0] as tf.Tensor4D } : {}),
      scaleFactor: this.config.scale_factor,
      ...(opts.onStep !== undefined && { onStep: opts.onStep }),
      ...(opts.onProgress !== undefined && { onProgress: opts.onProgress }),
      ...(opts.signal !== undefined && { signal: opts.signal }),
    });
  }

  /** Releases every weight tensor (U-Net, text tower, VAE). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    void this.unetNet.network.dispose();
    void this.vaeDecoder?.dispose();
    disposeUNet(this.unet);
    this.text.dispose();
    if (this.vae) disposeAutoencoderKL(this.vae);
  }
}


/**
 * The checks {@link TextToLatent.generate} makes before any work, on the configuration alone (see
 * {@link resolveTextToLatentConfig}): the sampler name, the image size against the VAE × U-Net downsampling,
 * and the step count against the sampler's timestep rule. Returns the sampler name and size that will be used;
 * throws an error naming the option otherwise.
 */
export function checkTextToLatentOptions(
  config: TextToLatentConfig,
  opts: Pick<TextToLatentGenerateOptions, 'sampler' | 'width' | 'height' | 'steps'>,
  schedule: DiffusionSchedule = scheduleOf(config),
): { sampler: string; width: number; height: number } {
  const sampler = opts.sampler ?? TXT2IMG_DEFAULTS.sampler;
  const definition = getSampler(sampler);
  const { downsampling: f, unetFactor, multiple } = sizeFactors(config);
  const defaultSide = config.image_size * f;
  const width = opts.width ?? defaultSide;
  const height = opts.height ?? defaultSide;
  for (const [name, v] of [['width', width], ['height', height]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${v}`);
    if (v % multiple !== 0) throw new Error(`${name} ${v} must be a multiple of ${multiple} (VAE downsampling ${f} × U-Net 2^(levels−1) = ${unetFactor})`);
  }
  if (opts.steps !== undefined) definition.timesteps(schedule, opts.steps);
  return { sampler, width, height };
}

/** Image sides must be multiples of `multiple`: the VAE's downsampling times the U-Net's 2^(levels−1). */
function sizeFactors(config: TextToLatentConfig): { downsampling: number; unetFactor: number; multiple: number } {
  const downsampling = downsamplingFactor(config.first_stage_config.ddconfig);
  const unetFactor = 2 ** ((config.unet_config.channel_mult ?? UNET_DEFAULTS.channel_mult).length - 1);
  return { downsampling, unetFactor, multiple: downsampling * unetFactor };
}

function scheduleOf(config: TextToLatentConfig): DiffusionSchedule {
  return registerSchedule({
    betaSchedule: config.beta_schedule,
    timesteps: config.timesteps,
    linearStart: config.linear_start,
    linearEnd: config.linear_end,
    ...(config.cosine_s !== undefined ? { cosineS: config.cosine_s } : {}),
  });
}
