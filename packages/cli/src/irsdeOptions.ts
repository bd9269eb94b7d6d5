import { weightKeysIfReadable } from '@stablesr/core';
import { type IRSDESamplerName, IRSDE_UPSCALE_OPTION_SPECS, isConditionalUNetStateDict } from '@stablesr/irsde';
import { parseChoice } from './options/parseChoice.js';
import { parseFloatOption, parseIntOption } from './options/parseNumber.js';
import { UsageError } from './usageError.js';

/** Model families `stablesr upscale` runs, recognised from a checkpoint's keys or forced with `--model`. */
export const MODEL_FAMILIES = ['stablesr', 'irsde'] as const;
export type ModelFamily = (typeof MODEL_FAMILIES)[number];

/** The `upscale` flags an IR-SDE model takes; every other pipeline flag is StableSR's. */
export const IRSDE_FLAGS: readonly string[] = IRSDE_UPSCALE_OPTION_SPECS.map((s) => s.flag);

/** `stablesr upscale` settings of an IR-SDE checkpoint. */
export interface IrsdeCliOptions {
  scale?: number;
  steps?: number;
  sampler?: IRSDESamplerName;
  temperature?: number;
  selfEnsemble?: boolean;
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
  const opts: Record<string, string | number | boolean> = {};
  for (const spec of IRSDE_UPSCALE_OPTION_SPECS) {
    const flag = `--${spec.flag}`;
    const raw = v[spec.flag] as string | undefined;
    const range = { min: spec.min ?? 0, ...(spec.max !== undefined && { max: spec.max }) };
    const value = spec.kind === 'choice' || spec.kind === 'switch' ? parseChoice(flag, raw, spec.choices!) : spec.kind === 'int' ? parseIntOption(flag, raw, range) : parseFloatOption(flag, raw, range);
    if (value !== undefined) opts[spec.name] = spec.kind === 'switch' ? value === 'on' : value;
  }
  if (opts.tileSize !== undefined && opts.tileOverlap !== undefined && opts.tileOverlap >= opts.tileSize) throw new UsageError(`--tile-overlap must be smaller than --tile-size (${opts.tileSize}), got ${opts.tileOverlap}`);
  return opts as IrsdeCliOptions;
}
