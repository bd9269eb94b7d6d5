import { type EngineOptions, BACKEND_CHOICES, type BackendChoice, type ImageFormat, type QuantizeMode, QUANTIZE_MODES, WEIGHT_PLACEMENTS, type WeightPlacement } from '@stablesr/core';
import { COLOR_FIX_KINDS, type ColorFixKind, STABLESR_PRESETS, type SamplerKind, type StableSRPreset } from '@stablesr/stablesr';
import { extname } from 'node:path';
import { requireFile, requireFileOrDir } from './options/checkPaths.js';
import { parseChoice } from './options/parseChoice.js';
import { parseCommandArgs } from './options/parseCommandArgs.js';
import { parseFloatOption, parseIntOption } from './options/parseNumber.js';
import { planJobs, type UpscaleJob } from './upscaleJobs.js';
import { ENGINE_FLAGS, parseEngineFlags } from './options/engineOptions.js';
import { UsageError } from './usageError.js';
import { UPSCALE_WEIGHTS_HINT } from './weightsHint.js';

export const UPSCALE_SAMPLERS: readonly SamplerKind[] = ['ddpm', 'ddim'];
export const UPSCALE_PRESETS = Object.keys(STABLESR_PRESETS) as StableSRPreset[];
export const FORMAT_CHOICES: readonly ImageFormat[] = ['png', 'jpeg', 'webp', 'tiff'];

/**
 * The CLI's own defaults. Every sampling default (steps, sampler, fidelity, colour fix, seed, tiles, guidance,
 * quantisation) is left to `StableSR.upscale`, so that the command and the library cannot drift apart.
 */
export const UPSCALE_DEFAULTS = { concurrency: 1, bitDepth: 8 } as const;

/** Every `stablesr upscale` setting, validated. */
export interface UpscaleCliOptions {
  jobs: UpscaleJob[];
  /** True when input and output are folders. */
  batch: boolean;
  checkpoint: string;
  cfw?: string;
  config?: string;
  textEncoder?: string;
  tokenizer?: string;
  preset?: StableSRPreset;
  vaeTileSize?: number;
  weights?: WeightPlacement;
  /** Sampling options: each one undefined unless given, the library's default applies. */
  scale?: number;
  steps?: number;
  sampler?: SamplerKind;
  eta?: number;
  tileSize?: number;
  tileOverlap?: number;
  fidelity?: number;
  colorFix?: ColorFixKind;
  prompt?: string;
  negativePrompt?: string;
  guidance?: number;
  seed?: number;
  inputSize?: number;
  patchSize?: number;
  patchStride?: number;
  backend?: BackendChoice;
  /** `--engine`, `--threads`, `--device`, `--no-prepack`. */
  engine: EngineOptions;
  quantize?: QuantizeMode;
  bitDepth: 8 | 16;
  format?: ImageFormat;
  concurrency: number;
  quiet: boolean;
  json: boolean;
  verbose: boolean;
}

const OPTIONS = {
  checkpoint: { type: 'string' },
  cfw: { type: 'string' },
  config: { type: 'string' },
  'text-encoder': { type: 'string' },
  tokenizer: { type: 'string' },
  preset: { type: 'string' },
  'vae-tile-size': { type: 'string' },
  weights: { type: 'string' },
  scale: { type: 'string' },
  steps: { type: 'string' },
  sampler: { type: 'string' },
  eta: { type: 'string' },
  'tile-size': { type: 'string' },
  'tile-overlap': { type: 'string' },
  fidelity: { type: 'string' },
  'color-fix': { type: 'string' },
  prompt: { type: 'string' },
  'negative-prompt': { type: 'string' },
  guidance: { type: 'string' },
  seed: { type: 'string' },
  'input-size': { type: 'string' },
  'patch-size': { type: 'string' },
  'patch-stride': { type: 'string' },
  backend: { type: 'string' },
  ...ENGINE_FLAGS,
  quantize: { type: 'string' },
  'bit-depth': { type: 'string' },
  format: { type: 'string' },
  concurrency: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  json: { type: 'boolean' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * Parses and validates `stablesr upscale` arguments before anything is loaded: numbers and ranges, choices,
 * conflicting flags, weight files, input images and output paths. Any problem is a {@link UsageError}
 * (exit code 2) with one line naming the option or file. Rules that depend on the model (tile sizes vs. its
 * U-Net) are the library's, checked once it is loaded and reported the same way. Returns `'help'` for `--help`.
 */
export function parseUpscaleArgs(args: string[]): UpscaleCliOptions | 'help' {
  const { values: v, positionals } = parseCommandArgs('upscale', args, OPTIONS);
  if (v.help) return 'help';
  if (v.quiet && v.verbose) throw new UsageError('upscale: --quiet and --verbose contradict each other');
  if (positionals.length !== 2) throw new UsageError(`upscale: expected <input> <output>, got ${positionals.length} argument${positionals.length === 1 ? '' : 's'} (see stablesr upscale --help)`);
  if (v.checkpoint === undefined) throw new UsageError(UPSCALE_WEIGHTS_HINT);

  // Ranges are the library's where they do not depend on the model; model-dependent rules (tile sizes that are
  // multiples of the U-Net's downsampling, the default tile, steps ≤ the config's timesteps) are checked by
  // `StableSR.upscale` and reported with the flag's name (see commands/upscale.ts).
  const sampler = parseChoice('--sampler', v.sampler, UPSCALE_SAMPLERS);
  const negativePrompt = v['negative-prompt'];
  const guidance = parseFloatOption('--guidance', v.guidance, { min: 0, max: 100 });
  if (sampler !== 'ddim' && (negativePrompt !== undefined || guidance !== undefined)) {
    throw new UsageError(`upscale: ${negativePrompt !== undefined ? '--negative-prompt' : '--guidance'} needs --sampler ddim (StableSR's DDPM sampler has no classifier-free guidance)`);
  }
  const eta = parseFloatOption('--eta', v.eta, { min: 0 });
  if (eta !== undefined && sampler !== 'ddim') throw new UsageError('upscale: --eta needs --sampler ddim');
  const tileSize = parseIntOption('--tile-size', v['tile-size'], { min: 1 });
  const tileOverlap = parseIntOption('--tile-overlap', v['tile-overlap'], { min: 0 });
  if (tileOverlap !== undefined && tileSize !== undefined && tileOverlap >= tileSize) {
    throw new UsageError(`--tile-overlap (${tileOverlap}) must be smaller than --tile-size (${tileSize})`);
  }
  const inputSize = parseIntOption('--input-size', v['input-size'], { min: 32 });
  if (inputSize !== undefined && inputSize % 32 !== 0) throw new UsageError(`--input-size must be a multiple of 32, got ${inputSize}`);
  const patchSize = parseIntOption('--patch-size', v['patch-size'], { min: 32 });
  if (patchSize !== undefined && patchSize % 32 !== 0) throw new UsageError(`--patch-size must be a multiple of 32, got ${patchSize}`);
  if (patchSize !== undefined && inputSize !== undefined && patchSize < inputSize) throw new UsageError(`--patch-size (${patchSize}) must be ≥ --input-size (${inputSize})`);
  const patchStride = parseIntOption('--patch-stride', v['patch-stride'], { min: 1 });
  if (patchStride !== undefined && patchSize !== undefined && patchStride > patchSize) throw new UsageError(`--patch-stride (${patchStride}) must be ≤ --patch-size (${patchSize})`);
  const bitDepth = parseIntOption('--bit-depth', v['bit-depth']) ?? UPSCALE_DEFAULTS.bitDepth;
  if (bitDepth !== 8 && bitDepth !== 16) throw new UsageError(`--bit-depth must be 8 or 16, got ${v['bit-depth']}`);
  const format = parseChoice('--format', v.format === 'jpg' ? 'jpeg' : v.format === 'tif' ? 'tiff' : v.format, FORMAT_CHOICES);
  const backend = parseChoice('--backend', v.backend, BACKEND_CHOICES);

  const opts: UpscaleCliOptions = {
    jobs: [],
    batch: false,
    checkpoint: requireFile('--checkpoint', v.checkpoint),
    bitDepth,
    concurrency: parseIntOption('--concurrency', v.concurrency, { min: 1, max: 16 }) ?? UPSCALE_DEFAULTS.concurrency,
    engine: parseEngineFlags(v),
    quiet: v.quiet ?? false,
    json: v.json ?? false,
    verbose: v.verbose ?? false,
  };
  const set = <K extends keyof UpscaleCliOptions>(key: K, value: UpscaleCliOptions[K] | undefined): void => {
    if (value !== undefined) opts[key] = value;
  };
  set('scale', parseFloatOption('--scale', v.scale, { above: 0, max: 8 }));
  set('steps', parseIntOption('--steps', v.steps, { min: 1, max: 1000 }));
  set('sampler', sampler);
  set('eta', eta);
  set('fidelity', parseFloatOption('--fidelity', v.fidelity, { min: 0, max: 1 }));
  set('colorFix', parseChoice('--color-fix', v['color-fix'], COLOR_FIX_KINDS));
  set('seed', parseIntOption('--seed', v.seed, { min: 0, max: 0xffffffff }));
  set('quantize', parseChoice('--quantize', v.quantize, QUANTIZE_MODES));
  set('preset', parseChoice('--preset', v.preset, UPSCALE_PRESETS));
  set('vaeTileSize', parseIntOption('--vae-tile-size', v['vae-tile-size'], { min: 8 }));
  set('weights', parseChoice('--weights', v.weights, WEIGHT_PLACEMENTS));
  if (v.cfw !== undefined) opts.cfw = requireFile('--cfw', v.cfw);
  if (v.config !== undefined) {
    if (!['.yaml', '.yml', '.json'].includes(extname(v.config).toLowerCase())) throw new UsageError(`--config: expected a .yaml, .yml or .json file, got ${v.config}`);
    opts.config = requireFile('--config', v.config);
  }
  if (v['text-encoder'] !== undefined) opts.textEncoder = requireFile('--text-encoder', v['text-encoder']);
  if (v.tokenizer !== undefined) opts.tokenizer = requireFileOrDir('--tokenizer', v.tokenizer);
  set('tileSize', tileSize);
  set('tileOverlap', tileOverlap);
  set('inputSize', inputSize);
  set('patchSize', patchSize);
  set('patchStride', patchStride);
  set('prompt', v.prompt);
  set('negativePrompt', negativePrompt);
  set('guidance', guidance);
  set('backend', backend);
  set('format', format);

  const plan = planJobs(positionals[0]!, positionals[1]!, { format, bitDepth });
  opts.jobs = plan.jobs;
  opts.batch = plan.batch;
  if (!plan.batch && opts.concurrency !== 1) throw new UsageError('--concurrency applies to folders only (input is a single file)');
  return opts;
}
