import { type EngineOptions, BACKEND_CHOICES, OUTPUT_EXTENSIONS, type BackendChoice, WEIGHT_PLACEMENTS, type WeightPlacement } from '@stablesr/core';
import { TEXT_TO_LATENT_PRESETS, type TextToLatentPreset, checkTextToLatentOptions, resolveTextToLatentConfig } from '@stablesr/unet';
import { extname } from 'node:path';
import { requireConfigFile, requireFile, requireFileOrDir, requireWritableFile } from './options/checkPaths.js';
import { parseChoice } from './options/parseChoice.js';
import { parseCommandArgs } from './options/parseCommandArgs.js';
import { parseFloatOption, parseIntOption } from './options/parseNumber.js';
import { ENGINE_FLAGS, parseEngineFlags } from './options/engineOptions.js';
import { UsageError } from './usageError.js';
import { GENERATE_WEIGHTS_HINT } from './weightsHint.js';

export const GENERATE_SAMPLERS = ['ddim', 'ddpm', 'dpmpp-2m', 'euler-a'] as const;

/** SD 2.x txt2img defaults (512 px, DDIM 50 steps, guidance 9 as in Stability-AI's txt2img.py). */
export const GENERATE_DEFAULTS = { steps: 50, guidance: 9, width: 512, height: 512, sampler: 'ddim', seed: 42 } as const;

export interface GenerateCliOptions {
  prompt: string;
  negativePrompt?: string;
  checkpoint: string;
  config?: string;
  preset?: TextToLatentPreset;
  textEncoder?: string;
  tokenizer?: string;
  vae?: string;
  steps: number;
  guidance: number;
  width: number;
  height: number;
  sampler: (typeof GENERATE_SAMPLERS)[number];
  seed: number;
  latentsOut: string;
  imageOut?: string;
  backend?: BackendChoice;
  /** `--engine`, `--threads`, `--device`, `--no-prepack`. */
  engine: EngineOptions;
  weights?: WeightPlacement;
  quiet: boolean;
  json: boolean;
  verbose: boolean;
}

const OPTIONS = {
  prompt: { type: 'string' },
  'negative-prompt': { type: 'string' },
  checkpoint: { type: 'string' },
  config: { type: 'string' },
  preset: { type: 'string' },
  'text-encoder': { type: 'string' },
  tokenizer: { type: 'string' },
  vae: { type: 'string' },
  steps: { type: 'string' },
  guidance: { type: 'string' },
  width: { type: 'string' },
  height: { type: 'string' },
  sampler: { type: 'string' },
  seed: { type: 'string' },
  'latents-out': { type: 'string' },
  'image-out': { type: 'string' },
  backend: { type: 'string' },
  ...ENGINE_FLAGS,
  weights: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  json: { type: 'boolean' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function sideOption(flag: string, raw: string | undefined, fallback: number): number {
  const v = parseIntOption(flag, raw, { min: 8, max: 4096 }) ?? fallback;
  if (v % 8 !== 0) throw new UsageError(`${flag} must be a multiple of 8 (the VAE downsamples by 8), got ${v}`);
  return v;
}

/** Parses and validates `stablesr generate` arguments (see {@link parseUpscaleArgs} for the rules). */
export function parseGenerateArgs(args: string[]): GenerateCliOptions | 'help' {
  const { values: v, positionals } = parseCommandArgs('generate', args, OPTIONS);
  if (v.help) return 'help';
  if (v.quiet && v.verbose) throw new UsageError('generate: --quiet and --verbose contradict each other');
  if (positionals.length > 0) throw new UsageError(`generate: unexpected argument ${positionals[0]} (the prompt goes in --prompt)`);
  if (v.prompt === undefined) throw new UsageError('generate: --prompt TEXT is required');
  if (v.checkpoint === undefined) throw new UsageError(GENERATE_WEIGHTS_HINT);
  if (v['latents-out'] === undefined) throw new UsageError('generate: --latents-out FILE.safetensors is required');
  if (extname(v['latents-out']).toLowerCase() !== '.safetensors') throw new UsageError(`--latents-out must be a .safetensors file, got ${v['latents-out']}`);
  const sampler = parseChoice('--sampler', v.sampler, GENERATE_SAMPLERS) ?? GENERATE_DEFAULTS.sampler;
  const opts: GenerateCliOptions = {
    prompt: v.prompt,
    // A file, or a diffusers pipeline / unet folder.
    checkpoint: requireFileOrDir('--checkpoint', v.checkpoint),
    steps: parseIntOption('--steps', v.steps, { min: 1, max: 1000 }) ?? GENERATE_DEFAULTS.steps,
    guidance: parseFloatOption('--guidance', v.guidance, { min: 0, max: 100 }) ?? GENERATE_DEFAULTS.guidance,
    width: sideOption('--width', v.width, GENERATE_DEFAULTS.width),
    height: sideOption('--height', v.height, GENERATE_DEFAULTS.height),
    sampler,
    seed: parseIntOption('--seed', v.seed, { min: 0, max: 0xffffffff }) ?? GENERATE_DEFAULTS.seed,
    latentsOut: requireWritableFile('--latents-out', v['latents-out']),
    engine: parseEngineFlags(v),
    quiet: v.quiet ?? false,
    json: v.json ?? false,
    verbose: v.verbose ?? false,
  };
  if (v['negative-prompt'] !== undefined) opts.negativePrompt = v['negative-prompt'];
  if (v.config !== undefined) opts.config = requireConfigFile('--config', v.config);
  const preset = parseChoice('--preset', v.preset, Object.keys(TEXT_TO_LATENT_PRESETS) as TextToLatentPreset[]);
  if (preset !== undefined) opts.preset = preset;
  if (v['text-encoder'] !== undefined) opts.textEncoder = requireFileOrDir('--text-encoder', v['text-encoder']);
  if (v.tokenizer !== undefined) opts.tokenizer = requireFileOrDir('--tokenizer', v.tokenizer);
  if (v.vae !== undefined) {
    if (v['image-out'] === undefined) throw new UsageError('--vae is only used with --image-out');
    opts.vae = requireFileOrDir('--vae', v.vae);
  }
  if (v['image-out'] !== undefined) {
    const ext = extname(v['image-out']).toLowerCase();
    if (!OUTPUT_EXTENSIONS[ext]) throw new UsageError(`--image-out: unsupported output format "${ext || '(no extension)'}" (supported: ${Object.keys(OUTPUT_EXTENSIONS).join(' ')})`);
    opts.imageOut = requireWritableFile('--image-out', v['image-out']);
  }
  if (opts.negativePrompt !== undefined && opts.guidance === 1) throw new UsageError('--negative-prompt has no effect with --guidance 1 (guidance off)');
  const backend = parseChoice('--backend', v.backend, BACKEND_CHOICES);
  if (backend !== undefined) opts.backend = backend;
  const weights = parseChoice('--weights', v.weights, WEIGHT_PLACEMENTS);
  if (weights !== undefined) opts.weights = weights;
  checkAgainstModel(opts);
  return opts;
}

/**
 * Size and step count against the model configuration (preset / --config), before any weights are read: SD
 * needs sides that are multiples of 64 (VAE × U-Net downsampling), and DDIM-style timesteps exclude some counts.
 */
function checkAgainstModel(opts: GenerateCliOptions): void {
  let config;
  try {
    config = resolveTextToLatentConfig({ ...(opts.config !== undefined && { config: opts.config }), ...(opts.preset !== undefined && { preset: opts.preset }) });
  } catch (e) {
    throw new UsageError(`--config ${opts.config ?? ''}: ${(e as Error).message}`);
  }
  try {
    checkTextToLatentOptions(config, { sampler: opts.sampler, width: opts.width, height: opts.height, steps: opts.steps });
  } catch (e) {
    const m = (e as Error).message;
    const flag = /^width/.test(m) ? '--width' : /^height/.test(m) ? '--height' : /steps/i.test(m) ? '--steps' : '--sampler';
    throw new UsageError(`${flag}: ${m}`);
  }
}
