import { BACKEND_CHOICES, type BackendChoice, type ImageFormat, type QuantizeMode, QUANTIZE_MODES } from '@stablesr/core';
import { extname } from 'node:path';
import { requireFile, requireFileOrDir } from './options/checkPaths.js';
import { parseChoice } from './options/parseChoice.js';
import { parseCommandArgs } from './options/parseCommandArgs.js';
import { parseFloatOption, parseIntOption } from './options/parseNumber.js';
import { planJobs, type UpscaleJob } from './upscaleJobs.js';
import { UsageError } from './usageError.js';
import { UPSCALE_WEIGHTS_HINT } from './weightsHint.js';

export const UPSCALE_SAMPLERS = ['ddpm', 'ddim'] as const;
export const COLOR_FIXES = ['wavelet', 'adain', 'none'] as const;
export const FORMAT_CHOICES: readonly ImageFormat[] = ['png', 'jpeg', 'webp', 'tiff'];

/** Defaults of the official StableSR scripts (DDPM 200 steps, dec_w 0.5, wavelet colour fix, seed 42). */
export const UPSCALE_DEFAULTS = { scale: 4, steps: 200, sampler: 'ddpm', fidelity: 0.5, colorFix: 'wavelet', seed: 42, negativeGuidance: 7, concurrency: 1 } as const;

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
  scale: number;
  steps: number;
  sampler: (typeof UPSCALE_SAMPLERS)[number];
  tileSize?: number;
  tileOverlap?: number;
  fidelity: number;
  colorFix: (typeof COLOR_FIXES)[number];
  prompt?: string;
  negativePrompt?: string;
  guidance?: number;
  seed: number;
  backend?: BackendChoice;
  quantize: QuantizeMode;
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
  scale: { type: 'string' },
  steps: { type: 'string' },
  sampler: { type: 'string' },
  'tile-size': { type: 'string' },
  'tile-overlap': { type: 'string' },
  fidelity: { type: 'string' },
  'color-fix': { type: 'string' },
  prompt: { type: 'string' },
  'negative-prompt': { type: 'string' },
  guidance: { type: 'string' },
  seed: { type: 'string' },
  backend: { type: 'string' },
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
 * Parses and validates `stablesr upscale` arguments completely before anything is loaded: numbers and ranges,
 * choices, conflicting flags, weight files, input images and output paths. Any problem is a {@link UsageError}
 * (exit code 2) with one line naming the option or file. Returns `'help'` for `--help`.
 */
export function parseUpscaleArgs(args: string[]): UpscaleCliOptions | 'help' {
  const { values: v, positionals } = parseCommandArgs('upscale', args, OPTIONS);
  if (v.help) return 'help';
  if (v.quiet && v.verbose) throw new UsageError('upscale: --quiet and --verbose contradict each other');
  if (positionals.length !== 2) throw new UsageError(`upscale: expected <input> <output>, got ${positionals.length} argument${positionals.length === 1 ? '' : 's'} (see stablesr upscale --help)`);
  if (v.checkpoint === undefined) throw new UsageError(UPSCALE_WEIGHTS_HINT);

  const sampler = parseChoice('--sampler', v.sampler, UPSCALE_SAMPLERS) ?? UPSCALE_DEFAULTS.sampler;
  const negativePrompt = v['negative-prompt'];
  const guidance = parseFloatOption('--guidance', v.guidance, { min: 0, max: 100 });
  if (sampler !== 'ddim' && (negativePrompt !== undefined || guidance !== undefined)) {
    throw new UsageError(`upscale: ${negativePrompt !== undefined ? '--negative-prompt' : '--guidance'} needs --sampler ddim (StableSR's DDPM sampler has no classifier-free guidance)`);
  }
  const tileSize = parseIntOption('--tile-size', v['tile-size'], { min: 8, max: 1024 });
  const tileOverlap = parseIntOption('--tile-overlap', v['tile-overlap'], { min: 0 });
  if (tileOverlap !== undefined && tileOverlap >= (tileSize ?? 64)) {
    throw new UsageError(`--tile-overlap (${tileOverlap}) must be smaller than --tile-size (${tileSize ?? '64, the default'})`);
  }
  const bitDepth = (parseIntOption('--bit-depth', v['bit-depth']) ?? 8) as 8 | 16;
  if (bitDepth !== 8 && bitDepth !== 16) throw new UsageError(`--bit-depth must be 8 or 16, got ${v['bit-depth']}`);
  const format = parseChoice('--format', v.format === 'jpg' ? 'jpeg' : v.format === 'tif' ? 'tiff' : v.format, FORMAT_CHOICES);
  const backend = parseChoice('--backend', v.backend, BACKEND_CHOICES);

  const opts: UpscaleCliOptions = {
    jobs: [],
    batch: false,
    checkpoint: requireFile('--checkpoint', v.checkpoint),
    scale: parseFloatOption('--scale', v.scale, { min: 1, max: 8 }) ?? UPSCALE_DEFAULTS.scale,
    steps: parseIntOption('--steps', v.steps, { min: 1, max: 1000 }) ?? UPSCALE_DEFAULTS.steps,
    sampler,
    fidelity: parseFloatOption('--fidelity', v.fidelity, { min: 0, max: 1 }) ?? UPSCALE_DEFAULTS.fidelity,
    colorFix: parseChoice('--color-fix', v['color-fix'], COLOR_FIXES) ?? UPSCALE_DEFAULTS.colorFix,
    seed: parseIntOption('--seed', v.seed, { min: 0, max: 0xffffffff }) ?? UPSCALE_DEFAULTS.seed,
    quantize: parseChoice('--quantize', v.quantize, QUANTIZE_MODES) ?? 'truncate',
    bitDepth,
    concurrency: parseIntOption('--concurrency', v.concurrency, { min: 1, max: 16 }) ?? UPSCALE_DEFAULTS.concurrency,
    quiet: v.quiet ?? false,
    json: v.json ?? false,
    verbose: v.verbose ?? false,
  };
  if (v.cfw !== undefined) opts.cfw = requireFile('--cfw', v.cfw);
  if (v.config !== undefined) {
    if (!['.yaml', '.yml', '.json'].includes(extname(v.config).toLowerCase())) throw new UsageError(`--config: expected a .yaml, .yml or .json file, got ${v.config}`);
    opts.config = requireFile('--config', v.config);
  }
  if (v['text-encoder'] !== undefined) opts.textEncoder = requireFile('--text-encoder', v['text-encoder']);
  if (v.tokenizer !== undefined) opts.tokenizer = requireFileOrDir('--tokenizer', v.tokenizer);
  if (tileSize !== undefined) opts.tileSize = tileSize;
  if (tileOverlap !== undefined) opts.tileOverlap = tileOverlap;
  if (v.prompt !== undefined) opts.prompt = v.prompt;
  if (negativePrompt !== undefined) opts.negativePrompt = negativePrompt;
  const g = guidance ?? (negativePrompt !== undefined ? UPSCALE_DEFAULTS.negativeGuidance : undefined);
  if (g !== undefined) opts.guidance = g;
  if (backend !== undefined) opts.backend = backend;
  if (format !== undefined) opts.format = format;

  const plan = planJobs(positionals[0]!, positionals[1]!, { format, bitDepth });
  opts.jobs = plan.jobs;
  opts.batch = plan.batch;
  if (!plan.batch && opts.concurrency !== 1) throw new UsageError('--concurrency applies to folders only (input is a single file)');
  return opts;
}
