import { type EngineOptions, BACKEND_CHOICES, type BackendChoice, type ImageFormat, WEIGHT_PLACEMENTS, type WeightPlacement } from '@stablesr/core';
import { FLAG_LABEL, OptionError, STABLESR_PRESETS, type StableSRPreset, UPSCALE_OPTION_SPECS, type UpscaleOptions, parseUpscaleOptionStrings } from '@stablesr/stablesr';
import { requireConfigFile, requireFile, requireFileOrDir } from './options/checkPaths.js';
import { parseChoice } from './options/parseChoice.js';
import { parseCommandArgs } from './options/parseCommandArgs.js';
import { parseIntOption } from './options/parseNumber.js';
import { planJobs, type UpscaleJob } from './upscaleJobs.js';
import { ENGINE_FLAGS, parseEngineFlags } from './options/engineOptions.js';
import { WEIGHT_FLAGS } from './options/weightFlags.js';
import { UsageError } from './usageError.js';
import { UPSCALE_WEIGHTS_HINT } from './weightsHint.js';
import { verifiedDefaultModelPath } from '@stablesr/default-model';
import { IRSDE_FLAGS, type IrsdeCliOptions, MODEL_FAMILIES, detectModelFamily, parseIrsdeFlags } from './irsdeOptions.js';

export const UPSCALE_PRESETS = Object.keys(STABLESR_PRESETS) as StableSRPreset[];
export const FORMAT_CHOICES: readonly ImageFormat[] = ['png', 'jpeg', 'webp', 'tiff'];

/**
 * The CLI's own defaults. Every sampling and output default is the library's (the option table in
 * `@stablesr/stablesr`), so that the command and the library cannot drift apart.
 */
export const UPSCALE_DEFAULTS = { concurrency: 1 } as const;

/** The pipeline options given on the command line (flags named by the library's option table); the library's defaults apply to the rest. */
export type UpscaleFlagValues = Omit<UpscaleOptions, 'noise' | 'onProgress' | 'signal'>;

/** Every `stablesr upscale` setting, validated. */
export interface UpscaleCliOptions {
  jobs: UpscaleJob[];
  /** True when input and output are folders. */
  batch: boolean;
  checkpoint: string;
  cfw?: string;
  config?: string;
  /** `--cfw-config`: the CFW autoencoder's YAML (autoencoder_kl_64x64x4_resi.yaml layout). */
  cfwConfig?: string;
  textEncoder?: string;
  tokenizer?: string;
  preset?: StableSRPreset;
  vaeTileSize?: number;
  weights?: WeightPlacement;
  /** Sampling and output options: each one absent unless given. */
  upscale: UpscaleFlagValues;
  /** Set when the checkpoint is an IR-SDE model (`--model irsde`, or recognised by its keys): its own settings. */
  irsde?: IrsdeCliOptions;
  backend?: BackendChoice;
  /** `--engine`, `--threads`, `--device`, `--no-prepack`. */
  engine: EngineOptions;
  format?: ImageFormat;
  concurrency: number;
  quiet: boolean;
  json: boolean;
  verbose: boolean;
}

const OPTIONS = {
  ...WEIGHT_FLAGS,
  // The IR-SDE flags StableSR does not share (temperature, self-ensemble).
  ...(Object.fromEntries(IRSDE_FLAGS.map((f) => [f, { type: 'string' }])) as Record<string, { type: 'string' }>),
  ...(Object.fromEntries(UPSCALE_OPTION_SPECS.map((s) => [s.flag, { type: 'string' }])) as Record<string, { type: 'string' }>),
  backend: { type: 'string' },
  ...ENGINE_FLAGS,
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
 * (exit code 2) with one line naming the option or file. The pipeline options are parsed and checked by the
 * library's option table (`parseUpscaleOptionStrings`); its rules that depend on the model (tile sizes vs. its
 * U-Net) run once it is loaded and are reported the same way. Returns `'help'` for `--help`.
 */
export function parseUpscaleArgs(args: string[]): UpscaleCliOptions | 'help' {
  const { values: v, positionals } = parseCommandArgs('upscale', args, OPTIONS);
  if (v.help) return 'help';
  if (v.quiet && v.verbose) throw new UsageError('upscale: --quiet and --verbose contradict each other');
  if (positionals.length !== 2) throw new UsageError(`upscale: expected <input> <output>, got ${positionals.length} argument${positionals.length === 1 ? '' : 's'} (see stablesr upscale --help)`);
  const forced = parseChoice('--model', v.model, MODEL_FAMILIES);
  // No weights given: the shipped default model (IR-SDE), checked against its model card's checksum.
  if (v.checkpoint === undefined && forced === 'stablesr') throw new UsageError(UPSCALE_WEIGHTS_HINT);
  const checkpoint = v.checkpoint === undefined ? verifiedDefaultModelPath().path : requireFile('--checkpoint', v.checkpoint);
  const family = v.checkpoint === undefined ? 'irsde' : (forced ?? detectModelFamily(checkpoint));
  let upscale: UpscaleFlagValues = {};
  let irsde: IrsdeCliOptions | undefined;
  if (family === 'irsde') {
    const stablesrOnly = ['cfw', 'config', 'cfw-config', 'text-encoder', 'tokenizer', 'preset', 'vae-tile-size', 'weights', ...UPSCALE_OPTION_SPECS.map((s) => s.flag).filter((f) => !(IRSDE_FLAGS as readonly string[]).includes(f))];
    irsde = parseIrsdeFlags(v, stablesrOnly, v.checkpoint === undefined ? `the default model (no --checkpoint: ${checkpoint})` : checkpoint);
  } else {
    const shared = new Set(UPSCALE_OPTION_SPECS.map((s) => s.flag));
    for (const f of IRSDE_FLAGS) if (!shared.has(f) && v[f as keyof typeof v] !== undefined) throw new UsageError(`--${f} applies to IR-SDE models (the default model, or an IR-SDE --checkpoint); ${checkpoint} is a StableSR checkpoint`);
    try {
      upscale = parseUpscaleOptionStrings(v as Record<string, string | undefined>);
    } catch (e) {
      throw e instanceof OptionError ? new UsageError(e.describe(FLAG_LABEL)) : e;
    }
  }
  const format = parseChoice('--format', v.format === 'jpg' ? 'jpeg' : v.format === 'tif' ? 'tiff' : v.format, FORMAT_CHOICES);
  const backend = parseChoice('--backend', v.backend, BACKEND_CHOICES);

  const opts: UpscaleCliOptions = {
    jobs: [],
    batch: false,
    checkpoint,
    upscale,
    ...(irsde && { irsde }),
    concurrency: parseIntOption('--concurrency', v.concurrency, { min: 1, max: 16 }) ?? UPSCALE_DEFAULTS.concurrency,
    engine: parseEngineFlags(v),
    quiet: v.quiet ?? false,
    json: v.json ?? false,
    verbose: v.verbose ?? false,
  };
  const set = <K extends keyof UpscaleCliOptions>(key: K, value: UpscaleCliOptions[K] | undefined): void => {
    if (value !== undefined) opts[key] = value;
  };
  set('preset', parseChoice('--preset', v.preset, UPSCALE_PRESETS));
  set('vaeTileSize', parseIntOption('--vae-tile-size', v['vae-tile-size'], { min: 8 }));
  set('weights', parseChoice('--weights', v.weights, WEIGHT_PLACEMENTS));
  if (v.cfw !== undefined) opts.cfw = requireFile('--cfw', v.cfw);
  if (v.config !== undefined) opts.config = requireConfigFile('--config', v.config);
  if (v['cfw-config'] !== undefined) opts.cfwConfig = requireConfigFile('--cfw-config', v['cfw-config']);
  if (v['text-encoder'] !== undefined) opts.textEncoder = requireFile('--text-encoder', v['text-encoder']);
  if (v.tokenizer !== undefined) opts.tokenizer = requireFileOrDir('--tokenizer', v.tokenizer);
  set('backend', backend);
  set('format', format);

  const plan = planJobs(positionals[0]!, positionals[1]!, { format, bitDepth: upscale.bitDepth ?? 8 });
  opts.jobs = plan.jobs;
  opts.batch = plan.batch;
  if (!plan.batch && opts.concurrency !== 1) throw new UsageError('--concurrency applies to folders only (input is a single file)');
  return opts;
}
