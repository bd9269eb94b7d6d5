import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type EngineOptions } from '@stablesr/core';
import { type ConditionalUNetConfig, type IRSDEConfig, type IRSDESamplerName, IRSDEUpscaler } from '@stablesr/irsde';

/** `model.json` beside the weights: what the model is and the checksum that proves the file is the one trained. */
export interface DefaultModelManifest {
  name: string;
  /** Weights file name inside the model folder. */
  weights: string;
  /** sha256 of the whole weights file, hex. */
  sha256: string;
  bytes: number;
  network: ConditionalUNetConfig;
  sde: IRSDEConfig;
  scale: number;
  sampler: IRSDESamplerName;
  steps: number;
  temperature: number;
  /** Whether upscaling averages the network over the 8 flips/transposes by default. */
  selfEnsemble?: boolean;
}

/** The folder of the shipped model (inside the package, next to `dist/` and `src/`). */
export const DEFAULT_MODEL_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'models', 'irsde-4x-small');

/** Reads a model folder's `model.json`, with errors that name it. */
export function readDefaultModelManifest(dir = DEFAULT_MODEL_DIR): DefaultModelManifest {
  const path = join(dir, 'model.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`the default model's manifest ${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); reinstall @stablesr/default-model or rebuild it with npm run train:default`);
  }
  let m: DefaultModelManifest;
  try {
    m = JSON.parse(text) as DefaultModelManifest;
  } catch (e) {
    throw new Error(`the default model's manifest ${path} is not JSON (${(e as Error).message})`);
  }
  for (const k of ['name', 'weights', 'sha256'] as const) if (typeof m[k] !== 'string') throw new Error(`the default model's manifest ${path}: field ${k} is missing`);
  return m;
}

/**
 * The path of the shipped weights after checking their sha256 against `model.json`: a damaged or replaced file is
 * an error naming it, never a model that loads and upscales garbage. ~30 ms for the 10 MB file.
 */
export function verifiedDefaultModelPath(dir = DEFAULT_MODEL_DIR): { path: string; manifest: DefaultModelManifest } {
  const manifest = readDefaultModelManifest(dir);
  const path = join(dir, manifest.weights);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`the default model ${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); reinstall @stablesr/default-model or rebuild it with npm run train:default`);
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (sha256 !== manifest.sha256) {
    throw new Error(`the default model ${path} is damaged: its sha256 is ${sha256.slice(0, 16)}…, its model card says ${manifest.sha256.slice(0, 16)}… (${bytes.length} of ${manifest.bytes} bytes); reinstall @stablesr/default-model or rebuild it with npm run train:default`);
  }
  return { path, manifest };
}

/**
 * Loads the shipped 4× model (IR-SDE, trained by `npm run train:default`; see its model card) after checking its
 * checksum. `upscale` defaults (sampler, steps) come with the model.
 *
 * ```ts
 * const model = await loadDefaultUpscaler();
 * const { image } = await model.upscale('photo.png');
 * model.dispose();
 * ```
 */
export async function loadDefaultUpscaler(opts: EngineOptions & { dir?: string } = {}): Promise<IRSDEUpscaler> {
  const { dir, ...engine } = opts;
  const { path } = verifiedDefaultModelPath(dir);
  return IRSDEUpscaler.load({ checkpoint: path, ...engine });
}
