import { BACKEND_CHOICES, type BackendChoice, type EngineOptions, WEIGHT_PLACEMENTS, type WeightPlacement } from '@stablesr/core';
import { MODEL_NAME } from '@stablesr/service';
import { type StableSRPreset } from '@stablesr/stablesr';
import { MODEL_FAMILIES, type ModelFamily } from './irsdeOptions.js';
import { requireConfigFile, requireFile, requireFileOrDir } from './options/checkPaths.js';
import { ENGINE_FLAGS, parseEngineFlags } from './options/engineOptions.js';
import { WEIGHT_FLAGS } from './options/weightFlags.js';
import { parseChoice } from './options/parseChoice.js';
import { parseIntOption } from './options/parseNumber.js';
import { UPSCALE_PRESETS } from './upscaleOptions.js';
import { UsageError } from './usageError.js';

/** The weight and runtime flags of `upscale` that pick and load a model, shared by `serve` and `worker` (parseArgs specs). */
export const MODEL_FLAGS = {
  ...WEIGHT_FLAGS,
  backend: { type: 'string' },
  name: { type: 'string' },
  ...ENGINE_FLAGS,
} as const;

/** The model a service process loads, from {@link MODEL_FLAGS}. */
export interface ModelFlags {
  /** Undefined: the shipped default model. */
  checkpoint?: string;
  family?: ModelFamily;
  cfw?: string;
  config?: string;
  cfwConfig?: string;
  textEncoder?: string;
  tokenizer?: string;
  preset?: StableSRPreset;
  vaeTileSize?: number;
  weights?: WeightPlacement;
  backend?: BackendChoice;
  engine: EngineOptions;
  /** The name requests select it by (`?model=`); default its family. */
  name?: string;
}

/** Whether any model flag was given (`serve --redis` takes none: its workers load the models). */
export function hasModelFlags(v: Readonly<Record<string, unknown>>): string | undefined {
  return Object.keys(MODEL_FLAGS).find((k) => v[k] !== undefined);
}

/** Parses {@link MODEL_FLAGS}, checking that the files exist (usage errors name the flag). */
export function parseModelFlags(v: Readonly<Record<string, string | boolean | undefined>>): ModelFlags {
  const s = (k: keyof typeof MODEL_FLAGS) => v[k] as string | undefined;
  const f: ModelFlags = { engine: parseEngineFlags(v as Parameters<typeof parseEngineFlags>[0]) };
  const set = <K extends keyof ModelFlags>(key: K, value: ModelFlags[K] | undefined): void => {
    if (value !== undefined) f[key] = value;
  };
  if (s('checkpoint') !== undefined) f.checkpoint = requireFile('--checkpoint', s('checkpoint')!);
  set('family', parseChoice('--model', s('model'), MODEL_FAMILIES));
  if (s('cfw') !== undefined) f.cfw = requireFile('--cfw', s('cfw')!);
  if (s('config') !== undefined) f.config = requireConfigFile('--config', s('config')!);
  if (s('cfw-config') !== undefined) f.cfwConfig = requireConfigFile('--cfw-config', s('cfw-config')!);
  if (s('text-encoder') !== undefined) f.textEncoder = requireFile('--text-encoder', s('text-encoder')!);
  if (s('tokenizer') !== undefined) f.tokenizer = requireFileOrDir('--tokenizer', s('tokenizer')!);
  set('preset', parseChoice('--preset', s('preset'), UPSCALE_PRESETS));
  set('vaeTileSize', parseIntOption('--vae-tile-size', s('vae-tile-size'), { min: 8 }));
  set('weights', parseChoice('--weights', s('weights'), WEIGHT_PLACEMENTS));
  set('backend', parseChoice('--backend', s('backend'), BACKEND_CHOICES));
  const name = s('name');
  if (name !== undefined && !MODEL_NAME.test(name)) throw new UsageError(`--name must be 1…64 letters, digits, '.', '_' or '-', got "${name}"`);
  set('name', name);
  return f;
}
