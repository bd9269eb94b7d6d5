import { type NoiseSource, type ProgressCallback, type QuantizeMode, DEFAULT_PATCH_SIZE, DEFAULT_PATCH_STRIDE, QUANTIZE_MODES } from '@stablesr/core';
import { COLOR_FIX_KINDS, type ColorFixKind } from './colorFix.js';
import { type SamplerKind } from './srPipeline.js';

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

const MAX_SCALE = 8;

function optionError(name: string, message: string): Error {
  return new Error(`upscale: option ${name} ${message}`);
}

function checkNumber(name: string, v: unknown, ok: (x: number) => boolean, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw optionError(name, `must be ${what}, got ${typeof v === 'number' ? v : JSON.stringify(v)}`);
  return v;
}

const isInt = (x: number) => Number.isInteger(x);

/** What the option rules need to know about the loaded model. */
export interface UpscaleModelLimits {
  /** Diffusion timesteps of the schedule (the most sampling steps). */
  timesteps: number;
  /** The config's `image_size`: the default input size. */
  imageSize: number;
  /** The U-Net's downsampling factor: latent tiles are multiples of it. */
  downFactor: number;
  /** The VAE's downsampling factor (image pixels per latent pixel). */
  downsampling: number;
}

/** Resolved, validated options of one call. */
export interface ResolvedUpscaleOptions {
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

/** Validates `opts` against the model and fills in the defaults; errors name the option. */
export function resolveUpscaleOptions(opts: UpscaleOptions, model: UpscaleModelLimits): ResolvedUpscaleOptions {
  if (opts === null || typeof opts !== 'object') throw new Error('upscale: options must be an object');
  const known = new Set([
    'scale', 'steps', 'sampler', 'eta', 'tileSize', 'tileOverlap', 'fidelity', 'colorFix', 'seed', 'noise', 'prompt', 'negativePrompt',
    'guidanceScale', 'inputSize', 'patchSize', 'patchStride', 'quantize', 'bitDepth', 'onProgress', 'signal',
  ]);
  for (const k of Object.keys(opts)) if (!known.has(k)) throw new Error(`upscale: unknown option ${k}`);
  const def = <T>(v: T | undefined, d: T): T => (v === undefined ? d : v);
  const scale = checkNumber('scale', def(opts.scale, 4), (x) => x > 0 && x <= MAX_SCALE, `a number in (0, ${MAX_SCALE}]`);
  const steps = checkNumber('steps', def(opts.steps, 200), (x) => isInt(x) && x >= 1 && x <= model.timesteps, `an integer in [1, ${model.timesteps}]`);
  const sampler = def(opts.sampler, 'ddpm');
  if (sampler !== 'ddpm' && sampler !== 'ddim') throw optionError('sampler', `must be "ddpm" or "ddim", got ${JSON.stringify(sampler)}`);
  const eta = checkNumber('eta', def(opts.eta, 1), (x) => x >= 0, 'a number ≥ 0');
  const inputSize = checkNumber('inputSize', def(opts.inputSize, model.imageSize), (x) => isInt(x) && x >= 1 && x % 32 === 0, 'a positive multiple of 32');
  const down = model.downFactor;
  const f = model.downsampling;
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
