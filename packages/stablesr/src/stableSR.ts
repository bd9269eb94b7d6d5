import * as tf from '@tensorflow/tfjs-core';
import {
  type BackendChoice,
  type EngineInfo,
  type EngineOptions,
  type WeightPlacement,
  type BackendInfo,
  type NoiseSource,
  type ProgressCallback,
  type QuantizeMode,
  type RawImage,
  type Weights,
  DEFAULT_PATCH_SIZE,
  DEFAULT_PATCH_STRIDE,
  QUANTIZE_MODES,
  SeededNoise,
  WeightFileError,
  imagePatchPlan,
  initBackend,
  latentTilePlan,
  openWeights,
  quantize,
  readImage,
  resizeAlpha,
  resolveEngine,
  throwIfAborted,
} from '@stablesr/core';
import { COLOR_FIX_KINDS, type ColorFixKind } from './colorFix.js';
import { type Conditioning } from './guidedDenoiser.js';
import { canvasGeometry, postprocessSize } from './preprocess.js';
import { PromptEncoder, findTextTower } from './promptEncoder.js';
import { type SRModels, type StructCond } from './srModels.js';
import { type SRNetworks, assertStableSRCheckpoint, loadSRNetworks } from './srNetworks.js';
import { type SamplerKind, superResolveStrips } from './srPipeline.js';
import { STABLESR_PRESETS, type StableSRConfig, type StableSRPreset, loadStableSRConfigFile, parseStableSRConfig } from './stableSRConfig.js';

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
   * Sections it does not give come from `preset`.
   */
  config?: string | Record<string, unknown> | StableSRConfig;
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

/** Options of {@link StableSR.upscale}. Defaults follow the official scripts. */
export interface UpscaleOptions {
  /**
   * Magnification, in (0, 8] (default 4); the output is `trunc(W·scale) × trunc(H·scale)`. Inputs smaller than
   * the model's input size are upscaled further first and scaled back at the end, as the reference does.
   */
  scale?: number;
  /** Sampling steps, 1 … 1000 (default 200: DDPM respaced to 200, the scripts' default). */
  steps?: number;
  /** `ddpm` (default) or `ddim`. */
  sampler?: SamplerKind;
  /** DDIM η (default 1, the README's command). */
  eta?: number;
  /**
   * Latent tile side (latent pixels = image pixels / 8), default `inputSize / 8` (64 for the 512 model).
   * Must be a multiple of the U-Net's downsampling factor. Latents larger than a tile are sampled tile by tile with
   * Gaussian blending; a tile larger than the latent is shrunk to it.
   */
  tileSize?: number;
  /** Overlap between latent tiles, smaller than `tileSize` (default `tileSize / 2`, the scripts' 32 for 64). */
  tileOverlap?: number;
  /** CFW fidelity weight `dec_w` in [0, 1] (default 0.5): 0 = most generative, 1 = closest to the input. */
  fidelity?: number;
  /** Colour correction against the (upscaled) input: `wavelet` (default), `adain` or `none`. */
  colorFix?: ColorFixKind;
  /** Seed of the default noise source (default 42, the scripts' seed). Ignored when `noise` is given. */
  seed?: number;
  /** Explicit noise source (e.g. recorded draws). */
  noise?: NoiseSource;
  /** Text prompt (default "", as StableSR). A non-empty prompt needs the `tokenizer` load option. */
  prompt?: string;
  /** Negative prompt for classifier-free guidance (DDIM only; needs the `tokenizer` load option). */
  negativePrompt?: string;
  /** Guidance scale with the negative prompt (DDIM only; default 7 when `negativePrompt` is given, else no guidance). */
  guidanceScale?: number;
  /** Model input size in pixels (default: the config's `image_size`, 512 / 768). Smaller inputs are upscaled to it. */
  inputSize?: number;
  /** Pixel patch size / stride for very large canvases (`--vqgantile_size` 1280, `--vqgantile_stride` 1000). */
  patchSize?: number;
  patchStride?: number;
  /** Float → integer rule of the output (default `truncate`, bit-exact with the scripts' PNGs). */
  quantize?: QuantizeMode;
  /** Output sample depth (default 8: `Uint8Array`; 16: `Uint16Array`). */
  bitDepth?: 8 | 16;
  /**
   * Progress: stage `sample` counts network evaluations over the whole image (steps × latent tiles × pixel
   * patches), then `decode` (per pixel patch) and `patch`.
   */
  onProgress?: ProgressCallback;
  /** Aborts between network evaluations with an `AbortError`. */
  signal?: AbortSignal;
}

/** What {@link StableSR.upscale} returns. */
export interface UpscaleResult {
  /** RGB, or RGBA when the input had alpha (the alpha upscaled separately with a bicubic resize). */
  image: RawImage;
  width: number;
  height: number;
  /** Wall time of the call. */
  seconds: number;
  inputWidth: number;
  inputHeight: number;
  /** The input was grayscale: the output is RGB, a writer may store it as gray. */
  grayscale: boolean;
  /** Network evaluations done (steps × tiles × patches). */
  evaluations: number;
  /** The seed used, when the default noise source was used. */
  seed?: number;
  /**
   * Where the time went, in seconds: `load` = engine sessions built during this call (the first image of a shape),
   * `encode` = VAE encoder, `sample` = time-aware encoder + U-Net over every step and tile, `decode` = CFW encoder
   * features + decoder; `total` = {@link seconds}. Stages exclude the session builds counted in `load`.
   */
  timings: UpscaleTimings;
  /** Sampling steps per latent tile, and latent tiles per step (summed over pixel patches). */
  steps: number;
  tiles: number;
}

export interface UpscaleTimings {
  load: number;
  encode: number;
  sample: number;
  decode: number;
  total: number;
}

/** Accepted inputs: a file path, an encoded image, a {@link RawImage}, or a `[1, H, W, 3]` tensor in [-1, 1]. */
export type UpscaleInput = string | Buffer | Uint8Array | RawImage | tf.Tensor4D;

const MAX_SCALE = 8;

function optionError(name: string, message: string): Error {
  return new Error(`upscale: option ${name} ${message}`);
}

function checkNumber(name: string, v: unknown, ok: (x: number) => boolean, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw optionError(name, `must be ${what}, got ${typeof v === 'number' ? v : JSON.stringify(v)}`);
  return v;
}

const isInt = (x: number) => Number.isInteger(x);

/** Resolved, validated options of one call. */
interface Resolved {
  scale: number;
  steps: number;
  sampler: SamplerKind;
  eta: number;
  tileSize: number;
  tileOverlap: number;
  fidelity: number;
  colorFix: ColorFixKind;
  seed: number;
  prompt: string;
  negativePrompt: string | undefined;
  guidanceScale: number | undefined;
  inputSize: number;
  patchSize: number;
  patchStride: number;
  quantize: QuantizeMode;
  bitDepth: 8 | 16;
}

/**
 * StableSR super-resolution: load once, upscale many images.
 *
 * ```ts
 * const sr = await StableSR.load({ checkpoint: 'stablesr_000117.ckpt', cfw: 'vqgan_cfw_00011.ckpt' });
 * const { image } = await sr.upscale('photo.png', { steps: 50 });
 * sr.dispose();
 * ```
 *
 * The pipeline is the official `_tile` scripts': bicubic upscale to at least the model input size, padding
 * to a multiple of 32, latent tiles with Gaussian blending, CFW decode, colour fix, downscale back.
 */
export class StableSR {
  private disposed = false;
  private constructor(
    /** The model configuration in use. */
    readonly config: StableSRConfig,
    /** The tfjs backend in use (the eager engine's, and host math around the networks on every engine). */
    readonly backend: BackendInfo,
    /** The engine that runs the networks: which, its provider (device or tfjs backend) and threads. */
    readonly engine: EngineInfo,
    private readonly nets: SRNetworks,
    private readonly text: PromptEncoder,
    private readonly files: Weights[],
    /** Whether a CFW autoencoder was loaded (otherwise `fidelity` has no effect: the first-stage decoder runs). */
    readonly hasCfw: boolean,
  ) {}

  /**
   * Initialises the backend, opens the weight files (headers only; tensors are read while building the
   * networks), checks that the checkpoint is a StableSR one, loads U-Net + time-aware encoder + VAE (+ CFW)
   * strictly against the config, and computes the empty-prompt context.
   */
  static async load(opts: StableSRLoadOptions): Promise<StableSR> {
    if (!opts || typeof opts.checkpoint !== 'string' || opts.checkpoint === '') throw new Error('StableSR.load: option checkpoint (path of the StableSR checkpoint) is required');
    const backend = await initBackend(opts.backend);
    const engine = await resolveEngine(opts);
    const config = resolveConfig(opts);
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
      return new StableSR(config, backend, engine, nets, text, files, cfw !== undefined);
    } catch (e) {
      nets?.dispose();
      text?.dispose();
      for (const f of files) f.close();
      throw e;
    }
  }

  /** Where the networks' weights live: `host` (JS memory, uploaded per layer / call) or `backend`. */
  get weights(): 'host' | 'backend' {
    return this.nets.weightsOnHost ? 'host' : 'backend';
  }

  /** The networks as pure functions, for latent-level use with `sampleFromLatent`, `decodeSamples`, … */
  get models(): SRModels {
    this.assertLive();
    return this.nets.models;
  }

  /** `cond_stage_model([prompt])`: `[1, 77, width]`, owned by the caller. */
  promptContext(prompt = ''): Promise<tf.Tensor3D> {
    this.assertLive();
    return this.text.encode(prompt);
  }

  /**
   * Super-resolves one image. Returns 8-bit (or 16-bit) interleaved samples, RGB or RGBA when the input had alpha.
   * Grayscale input is processed as RGB. Throws on bad options (naming the option), on `signal` abort
   * (`AbortError`), and on unreadable input (naming it). No tensor outlives the call.
   */
  async upscale(input: UpscaleInput, options: UpscaleOptions = {}): Promise<UpscaleResult> {
    this.assertLive();
    const t0 = performance.now();
    const o = this.resolveOptions(options);
    throwIfAborted(options.signal);
    const decoded = await decodeInput(input);
    const owned: tf.Tensor[] = decoded.owned ? [decoded.rgb] : [];
    if (decoded.alpha) owned.push(decoded.alpha);
    try {
      const [, h, w] = decoded.rgb.shape;
      // Tile geometry of this image: shrink tiles larger than the smallest latent window (see UpscaleOptions.tileSize).
      const g = canvasGeometry(h, w, o.inputSize, o.scale);
      const hp = g.oriH + g.padH;
      const wp = g.oriW + g.padW;
      const patches = imagePatchPlan(hp, wp, o.patchSize, o.patchStride);
      const f = this.nets.models.downsampling;
      const down = this.nets.unet.downFactor;
      const minLatent = Math.min(...patches.map((p) => Math.min(p.h, p.w))) / f;
      let tile = o.tileSize;
      if (tile > minLatent) tile = Math.max(down, Math.floor(minLatent / down) * down);
      const overlap = Math.min(o.tileOverlap, tile - 1);
      const perStep = patches.map((p) => {
        const lh = p.h / f;
        const lw = p.w / f;
        return lh <= tile && lw <= tile ? 1 : latentTilePlan(lh, lw, tile, overlap).length;
      });
      const total = perStep.reduce((a, b) => a + b, 0) * o.steps;

      let done = 0;
      const onProgress = options.onProgress;
      const timings: UpscaleTimings = { load: 0, encode: 0, sample: 0, decode: 0, total: 0 };
      // Each network call is timed into its stage; engine sessions built meanwhile (first call of a shape) count as load.
      const timed = <A extends unknown[], R>(stage: 'encode' | 'sample' | 'decode', fn: (...a: A) => R | Promise<R>) => async (...a: A): Promise<R> => {
        const b0 = this.nets.buildSeconds();
        const t1 = performance.now();
        try {
          return await fn(...a);
        } finally {
          const built = this.nets.buildSeconds() - b0;
          timings.load += built;
          timings[stage] += (performance.now() - t1) / 1000 - built;
        }
      };
      const m = this.nets.models;
      const models: SRModels = {
        ...m,
        encodeFirstStage: timed('encode', m.encodeFirstStage),
        decodeFirstStage: timed('decode', m.decodeFirstStage),
        structCond: timed('sample', m.structCond),
        unet: timed('sample', async (x: tf.Tensor4D, t: readonly number[], c: tf.Tensor3D, sc: StructCond) => {
          const out = await m.unet(x, t, c, sc);
          done++;
          onProgress?.({ stage: 'sample', done, total, detail: { t: t[0]! } });
          return out;
        }),
        ...(m.cfw ? { cfw: { encode: timed('decode', m.cfw.encode), decode: timed('decode', m.cfw.decode) } } : {}),
      };
      const cond = await this.conditioning(o);
      owned.push(cond.context, ...(cond.uncondContext ? [cond.uncondContext] : []));
      const noise = options.noise ?? new SeededNoise(o.seed);
      // The output is written strip by strip straight into its samples (RGB, or RGBA leaving room for the alpha):
      // the API returns exactly the requested size, the top-left part of the reference's output (the reference
      // crops the downscaled canvas to the pre-padding size of the *upscaled* canvas, which keeps some padding
      // when the input was upscaled beyond `scale`).
      const [ph, pw] = postprocessSize(hp, wp, g);
      const oh = Math.min(ph, Math.trunc(h * o.scale));
      const ow = Math.min(pw, Math.trunc(w * o.scale));
      const channels = decoded.alpha ? 4 : 3;
      const data = o.bitDepth === 16 ? new Uint16Array(ow * oh * channels) : new Uint8Array(ow * oh * channels);
      const size = await superResolveStrips(
        models,
        decoded.rgb,
        cond,
        { sampler: o.sampler, steps: o.steps, eta: o.eta, parameterization: this.config.parameterization, tileSize: tile, tileOverlap: overlap },
        {
          schedule: { linearStart: this.config.linear_start, linearEnd: this.config.linear_end, timesteps: this.config.timesteps },
          noise,
          fidelity: o.fidelity,
          colorFix: o.colorFix,
          upscale: o.scale,
          inputSize: o.inputSize,
          patchSize: o.patchSize,
          patchStride: o.patchStride,
          // The DDPM `_tile` script averages pixel patches uniformly, the DDIM one with Gaussian weights.
          patchBlend: o.sampler === 'ddim' ? 'gaussian' : 'uniform',
          signal: options.signal,
          ...(onProgress ? { onProgress: (e) => e.stage !== 'sample' && e.stage !== 'tile' && onProgress(e) } : {}),
        },
        (strip) => {
          const sw = Math.min(strip.width, ow - strip.x0);
          if (sw <= 0) return;
          for (let y = 0; y < Math.min(strip.height, oh); y++) {
            const row = quantize(strip.data.subarray(y * strip.width * 3, (y * strip.width + sw) * 3), { mode: o.quantize, bitDepth: o.bitDepth, signed: false });
            const base = (y * ow + strip.x0) * channels;
            if (channels === 3) data.set(row, base);
            else for (let x = 0; x < sw; x++) data.set(row.subarray(x * 3, x * 3 + 3), base + x * 4);
          }
        },
      );
      if (size.height < oh || size.width < ow) throw new Error(`internal: output ${size.width}×${size.height} smaller than ${ow}×${oh}`);
      if (decoded.alpha) {
        const a = await resizeAlpha(decoded.alpha, ow, oh);
        const av = quantize(await a.data<'float32'>(), { mode: o.quantize, bitDepth: o.bitDepth, signed: false });
        a.dispose();
        for (let k = 0; k < av.length; k++) data[k * 4 + 3] = av[k]!;
      }
      const out: RawImage = { data, width: ow, height: oh, channels };
      const seconds = (performance.now() - t0) / 1000;
      timings.total = seconds;
      return {
        image: out,
        width: ow,
        height: oh,
        seconds,
        timings,
        steps: o.steps,
        tiles: total / o.steps,
        inputWidth: w,
        inputHeight: h,
        grayscale: decoded.grayscale,
        evaluations: done,
        ...(options.noise ? {} : { seed: o.seed }),
      };
    } finally {
      tf.dispose(owned);
    }
  }

  /** Releases every tensor and closes the weight files. Further calls throw. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.nets.dispose();
    this.text.dispose();
    for (const f of this.files) f.close();
  }

  private async conditioning(o: Resolved): Promise<Conditioning> {
    const context = await this.text.encode(o.prompt);
    if (o.guidanceScale === undefined) return { context };
    try {
      return { context, uncondContext: await this.text.encode(o.negativePrompt ?? ''), guidanceScale: o.guidanceScale };
    } catch (e) {
      context.dispose();
      throw e;
    }
  }

  private resolveOptions(opts: UpscaleOptions): Resolved {
    if (opts === null || typeof opts !== 'object') throw new Error('upscale: options must be an object');
    const known = new Set([
      'scale', 'steps', 'sampler', 'eta', 'tileSize', 'tileOverlap', 'fidelity', 'colorFix', 'seed', 'noise', 'prompt', 'negativePrompt',
      'guidanceScale', 'inputSize', 'patchSize', 'patchStride', 'quantize', 'bitDepth', 'onProgress', 'signal',
    ]);
    for (const k of Object.keys(opts)) if (!known.has(k)) throw new Error(`upscale: unknown option ${k}`);
    const def = <T>(v: T | undefined, d: T): T => (v === undefined ? d : v);
    const scale = checkNumber('scale', def(opts.scale, 4), (x) => x > 0 && x <= MAX_SCALE, `a number in (0, ${MAX_SCALE}]`);
    const steps = checkNumber('steps', def(opts.steps, 200), (x) => isInt(x) && x >= 1 && x <= this.config.timesteps, `an integer in [1, ${this.config.timesteps}]`);
    const sampler = def(opts.sampler, 'ddpm');
    if (sampler !== 'ddpm' && sampler !== 'ddim') throw optionError('sampler', `must be "ddpm" or "ddim", got ${JSON.stringify(sampler)}`);
    const eta = checkNumber('eta', def(opts.eta, 1), (x) => x >= 0, 'a number ≥ 0');
    const inputSize = checkNumber('inputSize', def(opts.inputSize, this.config.image_size), (x) => isInt(x) && x >= 1 && x % 32 === 0, 'a positive multiple of 32');
    const down = this.nets.unet.downFactor;
    const f = this.nets.models.downsampling;
    const tileSize = checkNumber('tileSize', def(opts.tileSize, Math.max(down, Math.floor(inputSize / f / down) * down)), (x) => isInt(x) && x >= down && x % down === 0, `a multiple of ${down} (the U-Net's downsampling), in latent pixels`);
    const tileOverlap = checkNumber('tileOverlap', def(opts.tileOverlap, Math.floor(tileSize / 2)), (x) => isInt(x) && x >= 0, 'a non-negative integer');
    if (tileOverlap >= tileSize) throw optionError('tileOverlap', `(${tileOverlap}) must be smaller than tileSize (${tileSize})`);
    const fidelity = checkNumber('fidelity', def(opts.fidelity, 0.5), (x) => x >= 0 && x <= 1, 'a number in [0, 1]');
    const colorFix = def(opts.colorFix, 'wavelet');
    if (!COLOR_FIX_KINDS.includes(colorFix)) throw optionError('colorFix', `must be one of ${COLOR_FIX_KINDS.join(', ')}, got ${JSON.stringify(colorFix)}`);
    const seed = checkNumber('seed', def(opts.seed, 42), (x) => isInt(x) && x >= 0 && x <= 0xffffffff, 'an integer in [0, 2^32)');
    if (opts.noise !== undefined && typeof opts.noise?.draw !== 'function') throw optionError('noise', 'must be a NoiseSource (an object with draw(shape, use))');
    const prompt = def(opts.prompt, '');
    if (typeof prompt !== 'string') throw optionError('prompt', `must be a string, got ${JSON.stringify(prompt)}`);
    const negativePrompt = opts.negativePrompt;
    if (negativePrompt !== undefined && typeof negativePrompt !== 'string') throw optionError('negativePrompt', `must be a string, got ${JSON.stringify(negativePrompt)}`);
    let guidanceScale = opts.guidanceScale;
    if (guidanceScale !== undefined) checkNumber('guidanceScale', guidanceScale, (x) => x >= 0 && x <= 100, 'a number in [0, 100]');
    if ((negativePrompt !== undefined || guidanceScale !== undefined) && sampler !== 'ddim') {
      throw optionError(negativePrompt !== undefined ? 'negativePrompt' : 'guidanceScale', `needs sampler "ddim" (StableSR's DDPM sampler has no classifier-free guidance)`);
    }
    if (negativePrompt !== undefined) guidanceScale ??= 7;
    if (guidanceScale === 1) guidanceScale = undefined;
    const patchSize = checkNumber('patchSize', def(opts.patchSize, DEFAULT_PATCH_SIZE), (x) => isInt(x) && x >= inputSize && x % 32 === 0, `a multiple of 32 ≥ inputSize (${inputSize})`);
    const patchStride = checkNumber('patchStride', def(opts.patchStride, Math.min(DEFAULT_PATCH_STRIDE, patchSize)), (x) => isInt(x) && x >= 1 && x <= patchSize, `an integer in [1, patchSize (${patchSize})]`);
    const q = def(opts.quantize, 'truncate');
    if (!QUANTIZE_MODES.includes(q)) throw optionError('quantize', `must be one of ${QUANTIZE_MODES.join(', ')}, got ${JSON.stringify(q)}`);
    const bitDepth = def(opts.bitDepth, 8);
    if (bitDepth !== 8 && bitDepth !== 16) throw optionError('bitDepth', `must be 8 or 16, got ${JSON.stringify(bitDepth)}`);
    if (opts.onProgress !== undefined && typeof opts.onProgress !== 'function') throw optionError('onProgress', 'must be a function');
    return { scale, steps, sampler, eta, tileSize, tileOverlap, fidelity, colorFix, seed, prompt, negativePrompt, guidanceScale, inputSize, patchSize, patchStride, quantize: q, bitDepth };
  }

  private assertLive(): void {
    if (this.disposed) throw new Error('StableSR used after dispose()');
  }
}

function resolveConfig(opts: StableSRLoadOptions): StableSRConfig {
  const presetName = opts.preset ?? '512';
  const base = STABLESR_PRESETS[presetName];
  if (!base) throw new Error(`StableSR.load: option preset must be one of ${Object.keys(STABLESR_PRESETS).join(', ')}, got ${JSON.stringify(presetName)}`);
  if (opts.config === undefined) return base;
  if (typeof opts.config === 'string') return loadStableSRConfigFile(opts.config, base);
  return parseStableSRConfig(opts.config, 'config', base);
}

async function decodeInput(input: UpscaleInput): Promise<{ rgb: tf.Tensor4D; alpha?: tf.Tensor4D; grayscale: boolean; owned: boolean }> {
  if (input instanceof tf.Tensor) {
    const s = input.shape;
    if (input.rank !== 4 || s[0] !== 1 || s[3] !== 3) throw new Error(`upscale: an input tensor must be [1, H, W, 3] in [-1, 1], got [${s.join(', ')}]`);
    if (input.isDisposed) throw new Error('upscale: the input tensor is disposed');
    return { rgb: input, grayscale: false, owned: false };
  }
  if (input === undefined || input === null) throw new Error('upscale: no input image');
  const d = await readImage(input);
  return { rgb: d.rgb, ...(d.alpha ? { alpha: d.alpha } : {}), grayscale: d.grayscale, owned: true };
}
