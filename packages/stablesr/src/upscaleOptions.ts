import { type NoiseSource, type ProgressCallback, type QuantizeMode, DEFAULT_PATCH_SIZE, DEFAULT_PATCH_STRIDE, QUANTIZE_MODES } from '@stablesr/core';
import { COLOR_FIX_KINDS, type ColorFixKind } from './colorFix.js';
import { type SamplerKind } from './srRecipe.js';

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

/** The options of {@link UpscaleOptions} that carry plain values (the rest are objects: noise, callbacks, signal). */
export type UpscaleValueOptionName = 'scale' | 'steps' | 'sampler' | 'eta' | 'tileSize' | 'tileOverlap' | 'fidelity' | 'colorFix' | 'seed' | 'prompt' | 'negativePrompt' | 'guidanceScale' | 'inputSize' | 'patchSize' | 'patchStride' | 'quantize' | 'bitDepth';

/**
 * One upscale option: its API name, its name on the command line and in a plain record of strings (an HTTP
 * form, query string), its type and model-independent range, and its documentation. Rules that need the model
 * or other options are in {@link validateUpscaleOptions}.
 */
export interface UpscaleOptionSpec {
  name: UpscaleValueOptionName;
  /** Kebab-case name: `--<flag>` on the command line, the key in a record of strings. */
  flag: string;
  kind: 'int' | 'number' | 'choice' | 'string';
  choices?: readonly (string | number)[];
  min?: number;
  max?: number;
  /** Exclusive lower bound. */
  above?: number;
  /** Placeholder in usage text. */
  arg: string;
  /** One line of documentation, with the default. */
  doc: string;
}

const MAX_SCALE = 8;
const MAX_STEPS = 1000;

/** Every upscale option, once: the library validates with it, the CLI parses and documents its flags with it. */
export const UPSCALE_OPTION_SPECS: readonly UpscaleOptionSpec[] = [
  { name: 'scale', flag: 'scale', kind: 'number', above: 0, max: MAX_SCALE, arg: 'S', doc: `upscaling factor, 0 < S ≤ ${MAX_SCALE} (default 4); output is trunc(W·S) × trunc(H·S)` },
  { name: 'steps', flag: 'steps', kind: 'int', min: 1, max: MAX_STEPS, arg: 'N', doc: `sampling steps, 1…${MAX_STEPS} and at most the config's timesteps (default 200)` },
  { name: 'sampler', flag: 'sampler', kind: 'choice', choices: ['ddpm', 'ddim'], arg: 'ddpm|ddim', doc: 'the canvas script of that sampler (default ddpm)' },
  { name: 'eta', flag: 'eta', kind: 'number', min: 0, arg: 'E', doc: 'DDIM η ≥ 0 (ddim only; default 1)' },
  { name: 'tileSize', flag: 'tile-size', kind: 'int', min: 1, arg: 'N', doc: "latent tile side in latent pixels, a multiple of the U-Net's downsampling (default: input size / VAE factor, 64 for the 512 model)" },
  { name: 'tileOverlap', flag: 'tile-overlap', kind: 'int', min: 0, arg: 'N', doc: 'latent tile overlap, 0 ≤ N < tile size (default: half the tile size)' },
  { name: 'fidelity', flag: 'fidelity', kind: 'number', min: 0, max: 1, arg: 'W', doc: 'CFW fidelity weight 0…1: 0 = more generated detail, 1 = closer to input (default 0.5)' },
  { name: 'colorFix', flag: 'color-fix', kind: 'choice', choices: COLOR_FIX_KINDS, arg: COLOR_FIX_KINDS.join('|'), doc: 'colour correction against the input (default wavelet)' },
  { name: 'prompt', flag: 'prompt', kind: 'string', arg: 'TEXT', doc: 'text prompt (default "")' },
  { name: 'negativePrompt', flag: 'negative-prompt', kind: 'string', arg: 'TEXT', doc: 'negative prompt for classifier-free guidance (ddim only)' },
  { name: 'guidanceScale', flag: 'guidance', kind: 'number', min: 0, max: 100, arg: 'S', doc: 'guidance scale 0…100 (ddim only; default 7 with a negative prompt, else off; 1 = off)' },
  { name: 'seed', flag: 'seed', kind: 'int', min: 0, max: 0xffffffff, arg: 'N', doc: 'random seed, 0…4294967295 (default 42)' },
  { name: 'inputSize', flag: 'input-size', kind: 'int', min: 32, arg: 'N', doc: "model input size in pixels, a multiple of 32 (default: the config's image_size, 512 / 768); smaller images are upscaled to it first and scaled back at the end" },
  { name: 'patchSize', flag: 'patch-size', kind: 'int', min: 32, arg: 'N', doc: 'pixel patch size for very large canvases, a multiple of 32 ≥ input size (default 1280)' },
  { name: 'patchStride', flag: 'patch-stride', kind: 'int', min: 1, arg: 'N', doc: `pixel patch stride, 1…patch size (default ${DEFAULT_PATCH_STRIDE})` },
  { name: 'quantize', flag: 'quantize', kind: 'choice', choices: QUANTIZE_MODES, arg: QUANTIZE_MODES.join('|'), doc: 'float → integer rule (default truncate, as the reference scripts)' },
  { name: 'bitDepth', flag: 'bit-depth', kind: 'choice', choices: [8, 16], arg: '8|16', doc: 'bits per sample; 16 gives real 16-bit samples, PNG only (default 8)' },
];

const SPEC = new Map(UPSCALE_OPTION_SPECS.map((s) => [s.name, s]));

/** The spec of an option. */
export function upscaleOptionSpec(name: UpscaleValueOptionName): UpscaleOptionSpec {
  return SPEC.get(name)!;
}

/** How an error names an option: the API (`option tileSize`) or the command line (`--tile-size`), or any other. */
export type OptionLabel = (spec: UpscaleOptionSpec) => string;
export const API_LABEL: OptionLabel = (s) => `option ${s.name}`;
export const FLAG_LABEL: OptionLabel = (s) => `--${s.flag}`;

/**
 * A bad option value. `option` is the option at fault; the message names options with {@link API_LABEL}, and
 * {@link OptionError.describe} words it for another naming (the CLI's flags, an HTTP form's fields).
 */
export class OptionError extends Error {
  constructor(readonly option: UpscaleValueOptionName | 'noise' | 'onProgress' | 'options', private readonly words: (label: OptionLabel) => string) {
    super(`upscale: ${words(API_LABEL)}`);
    this.name = 'OptionError';
  }

  /** The message with the options named by `label` (no `upscale:` prefix). */
  describe(label: OptionLabel): string {
    return this.words(label);
  }
}

const fail = (name: UpscaleValueOptionName, words: (L: (n: UpscaleValueOptionName) => string) => string): never => {
  throw new OptionError(name, (label) => words((n) => label(SPEC.get(n)!)));
};

const show = (v: unknown): string => (typeof v === 'number' ? String(v) : JSON.stringify(v));

/** Type and model-independent range of one value. */
function checkValue(spec: UpscaleOptionSpec, v: unknown): void {
  const n = spec.name;
  if (spec.kind === 'string') {
    if (typeof v !== 'string') fail(n, (L) => `${L(n)} must be a string, got ${show(v)}`);
    return;
  }
  if (spec.kind === 'choice') {
    if (!spec.choices!.includes(v as string | number)) fail(n, (L) => `${L(n)} must be one of ${spec.choices!.join(', ')}, got ${show(v)}`);
    return;
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(n, (L) => `${L(n)} must be a number, got ${show(v)}`);
  const x = v as number;
  if (spec.kind === 'int' && !Number.isInteger(x)) fail(n, (L) => `${L(n)} must be a whole number, got ${x}`);
  if (spec.min !== undefined && x < spec.min) fail(n, (L) => `${L(n)} must be ≥ ${spec.min}, got ${x}`);
  if (spec.above !== undefined && x <= spec.above) fail(n, (L) => `${L(n)} must be > ${spec.above}, got ${x}`);
  if (spec.max !== undefined && x > spec.max) fail(n, (L) => `${L(n)} must be ≤ ${spec.max}, got ${x}`);
}

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
  /** Undefined: no guidance. */
  guidanceScale: number | undefined;
  inputSize: number;
  patchSize: number;
  patchStride: number;
  quantize: QuantizeMode;
  bitDepth: 8 | 16;
}

type Values = Partial<Pick<UpscaleOptions, UpscaleValueOptionName>>;

/**
 * Checks the given option values: each against its spec, then the rules between options (tile overlap below
 * the tile, patch ≥ input size, DDIM-only options). Without `model` that is all (what can be checked before a
 * model is loaded: the CLI's parse); with it, defaults are filled in and the model's rules applied (steps ≤
 * timesteps, tiles multiples of the U-Net's downsampling). Throws {@link OptionError}.
 */
export function validateUpscaleOptions(values: Values, model?: undefined): Values;
export function validateUpscaleOptions(values: Values, model: UpscaleModelLimits): ResolvedUpscaleOptions;
export function validateUpscaleOptions(values: Values, model?: UpscaleModelLimits): Values | ResolvedUpscaleOptions {
  for (const spec of UPSCALE_OPTION_SPECS) if (values[spec.name] !== undefined) checkValue(spec, values[spec.name]);
  const v = values;
  const sampler = v.sampler ?? 'ddpm';
  for (const n of ['negativePrompt', 'guidanceScale', 'eta'] as const) {
    if (v[n] !== undefined && sampler !== 'ddim') fail(n, (L) => `${L(n)} needs ${L('sampler')} ddim (StableSR's DDPM sampler has ${n === 'eta' ? 'no η' : 'no classifier-free guidance'})`);
  }
  const pair = (a: UpscaleValueOptionName, b: UpscaleValueOptionName, va: number | undefined, vb: number | undefined, bad: (x: number, y: number) => boolean, rel: string) => {
    if (va !== undefined && vb !== undefined && bad(va, vb)) fail(a, (L) => `${L(a)} (${va}) must be ${rel} ${L(b)} (${vb})`);
  };
  for (const n of ['inputSize', 'patchSize'] as const) if (v[n] !== undefined && v[n] % 32 !== 0) fail(n, (L) => `${L(n)} must be a multiple of 32, got ${v[n]}`);
  pair('tileOverlap', 'tileSize', v.tileOverlap, v.tileSize, (o, t) => o >= t, 'smaller than');
  pair('patchSize', 'inputSize', v.patchSize, v.inputSize, (p, i) => p < i, '≥');
  pair('patchStride', 'patchSize', v.patchStride, v.patchSize, (s, p) => s > p, '≤');
  if (!model) return v;

  const steps = v.steps ?? 200;
  if (steps > model.timesteps) fail('steps', (L) => `${L('steps')} must be ≤ ${model.timesteps} (the config's timesteps), got ${steps}`);
  const down = model.downFactor;
  const inputSize = v.inputSize ?? model.imageSize;
  // The scripts' tile covers the model input: input_size / 8 latent pixels for the VAE factor 8 of every released model.
  const tileSize = v.tileSize ?? Math.max(down, Math.floor(inputSize / model.downsampling / down) * down);
  if (tileSize % down !== 0) fail('tileSize', (L) => `${L('tileSize')} must be a multiple of ${down} (the U-Net's downsampling), in latent pixels, got ${tileSize}`);
  const tileOverlap = v.tileOverlap ?? Math.floor(tileSize / 2);
  pair('tileOverlap', 'tileSize', tileOverlap, tileSize, (o, t) => o >= t, 'smaller than');
  const patchSize = v.patchSize ?? DEFAULT_PATCH_SIZE;
  pair('patchSize', 'inputSize', patchSize, inputSize, (p, i) => p < i, '≥');
  const patchStride = v.patchStride ?? Math.min(DEFAULT_PATCH_STRIDE, patchSize);
  pair('patchStride', 'patchSize', patchStride, patchSize, (s, p) => s > p, '≤');
  let guidanceScale = v.guidanceScale ?? (v.negativePrompt !== undefined ? 7 : undefined);
  if (guidanceScale === 1) guidanceScale = undefined;
  return {
    scale: v.scale ?? 4,
    steps,
    sampler,
    eta: v.eta ?? 1,
    tileSize,
    tileOverlap,
    fidelity: v.fidelity ?? 0.5,
    colorFix: v.colorFix ?? 'wavelet',
    seed: v.seed ?? 42,
    prompt: v.prompt ?? '',
    negativePrompt: v.negativePrompt,
    guidanceScale,
    inputSize,
    patchSize,
    patchStride,
    quantize: v.quantize ?? 'truncate',
    bitDepth: v.bitDepth ?? 8,
  };
}

const OBJECT_OPTIONS = new Set(['noise', 'onProgress', 'signal']);

/** Validates the options of one {@link StableSR.upscale} call against the model and fills in the defaults; errors name the option. */
export function resolveUpscaleOptions(opts: UpscaleOptions, model: UpscaleModelLimits): ResolvedUpscaleOptions {
  if (opts === null || typeof opts !== 'object') throw new OptionError('options', () => 'options must be an object');
  for (const k of Object.keys(opts)) if (!SPEC.has(k as UpscaleValueOptionName) && !OBJECT_OPTIONS.has(k)) throw new Error(`upscale: unknown option ${k}`);
  if (opts.noise !== undefined && typeof opts.noise?.draw !== 'function') throw new OptionError('noise', () => 'option noise must be a NoiseSource (an object with draw(shape, use))');
  if (opts.onProgress !== undefined && typeof opts.onProgress !== 'function') throw new OptionError('onProgress', () => 'option onProgress must be a function');
  const values: Values = {};
  for (const spec of UPSCALE_OPTION_SPECS) if (opts[spec.name] !== undefined) (values as Record<string, unknown>)[spec.name] = opts[spec.name];
  return validateUpscaleOptions(values, model);
}

/**
 * Options from a plain record of strings keyed by {@link UpscaleOptionSpec.flag} (the CLI's parsed flags, an HTTP
 * form): each string parsed by its spec's kind, then {@link validateUpscaleOptions} without a model. Keys that are
 * not upscale options are ignored (the caller owns its other fields); errors name options by `label`.
 */
export function parseUpscaleOptionStrings(record: Readonly<Record<string, string | undefined>>, label: OptionLabel = FLAG_LABEL): Values {
  const values: Record<string, unknown> = {};
  try {
    for (const spec of UPSCALE_OPTION_SPECS) {
      const raw = record[spec.flag];
      if (raw === undefined) continue;
      values[spec.name] = parseString(spec, raw);
    }
    return validateUpscaleOptions(values as Values);
  } catch (e) {
    // Re-worded once here so callers need only one naming.
    if (e instanceof OptionError) throw new OptionError(e.option, () => e.describe(label));
    throw e;
  }
}

function parseString(spec: UpscaleOptionSpec, raw: string): unknown {
  const n = spec.name;
  switch (spec.kind) {
    case 'string':
      return raw;
    case 'choice': {
      const c = spec.choices!.find((x) => String(x) === raw);
      return c ?? fail(n, (L) => `${L(n)} must be one of ${spec.choices!.join(', ')}, got "${raw}"`);
    }
    case 'int': {
      if (!/^[+-]?\d+$/.test(raw.trim())) fail(n, (L) => `${L(n)} must be a whole number, got "${raw}"`);
      const v = Number(raw);
      if (!Number.isSafeInteger(v)) fail(n, (L) => `${L(n)} is too large: ${raw}`);
      return v;
    }
    case 'number': {
      const v = raw.trim() === '' ? Number.NaN : Number(raw);
      if (!Number.isFinite(v)) fail(n, (L) => `${L(n)} must be a number, got "${raw}"`);
      return v;
    }
  }
}
