import { weightKeysIfReadable } from '@stablesr/core';
import { type IRSDESamplerName, isConditionalUNetStateDict } from '@stablesr/irsde';
import { parseChoice } from './options/parseChoice.js';
import { parseFloatOption, parseIntOption } from './options/parseNumber.js';
import { UsageError } from './usageError.js';

/** Model families `stablesr upscale` runs, recognised from a checkpoint's keys or forced with `--model`. */
export const MODEL_FAMILIES = ['stablesr', 'irsde'] as const;
export type ModelFamily = (typeof MODEL_FAMILIES)[number];

/** The `upscale` flags an IR-SDE model takes; every other pipeline flag is StableSR's. */
export const IRSDE_FLAGS = ['scale', 'steps', 'sampler', 'temperature', 'seed', 'tile-size', 'tile-overlap'] as const;

/** `stablesr upscale` settings of an IR-SDE checkpoint. */
export interface IrsdeCliOptions {
  scale?: number;
  steps?: number;
  sampler?: IRSDESamplerName;
  temperature?: number;
  seed?: number;
  tileSize?: number;
  tileOverlap?: number;
}

/**
 * The family of a checkpoint from its keys: the authors' `ConditionalUNet` state dict (`init_conv.*`, `downs.*`) is
 * IR-SDE; LDM keys (`model.diffusion_model.*`) are StableSR. A file that cannot be opened is left to the StableSR
 * loader, which reports it naming the file.
 */
export function detectModelFamily(checkpoint: string): ModelFamily {
  const keys = weightKeysIfReadable(checkpoint);
  if (!keys) return 'stablesr';
  if (isConditionalUNetStateDict(keys)) return 'irsde';
  if (keys.some((k) => k.startsWith('model.diffusion_model.'))) return 'stablesr';
  throw new UsageError(`${checkpoint}: neither a StableSR nor an IR-SDE checkpoint by its keys (${keys.slice(0, 3).join(', ')}, …); pass --model ${MODEL_FAMILIES.join('|')}`);
}

/** Parses the IR-SDE flags; a StableSR-only flag is a usage error naming it. */
export function parseIrsdeFlags(v: Readonly<Record<string, unknown>>, stablesrOnly: readonly string[], checkpoint: string): IrsdeCliOptions {
  for (const flag of stablesrOnly) {
    if (v[flag] !== undefined) throw new UsageError(`--${flag} applies to StableSR checkpoints; ${checkpoint} is an IR-SDE model (its flags: ${IRSDE_FLAGS.map((f) => `--${f}`).join(', ')})`);
  }
  const s = (k: (typeof IRSDE_FLAGS)[number]): string | undefined => v[k] as string | undefined;
  const opts: IrsdeCliOptions = {};
  const set = <K extends keyof IrsdeCliOptions>(key: K, value: IrsdeCliOptions[K] | undefined): void => {
    if (value !== undefined) opts[key] = value;
  };
  set('scale', parseIntOption('--scale', s('scale'), { min: 1, max: 16 }));
  set('steps', parseIntOption('--steps', s('steps'), { min: 1, max: 10000 }));
  set('sampler', parseChoice('--sampler', s('sampler'), ['sde', 'posterior'] as const));
  set('temperature', parseFloatOption('--temperature', s('temperature'), { min: 0, max: 2 }));
  set('seed', parseIntOption('--seed', s('seed'), { min: 0 }));
  set('tileSize', parseIntOption('--tile-size', s('tile-size'), { min: 8 }));
  set('tileOverlap', parseIntOption('--tile-overlap', s('tile-overlap'), { min: 0 }));
  if (opts.tileSize !== undefined && opts.tileOverlap !== undefined && opts.tileOverlap >= opts.tileSize) throw new UsageError(`--tile-overlap must be smaller than --tile-size (${opts.tileSize}), got ${opts.tileOverlap}`);
  return opts;
}
