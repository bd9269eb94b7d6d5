import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type SourcePart, mergeSources } from './mergedSource.js';
import { openSafetensors } from './safetensors.js';
import { type TensorSource, WeightFileError } from './tensorSource.js';
import { type TorchCheckpointOptions, openTorchCheckpoint } from './torchCheckpoint.js';

export interface DiffusersFolderOptions {
  /**
   * Weight variant to load, e.g. `'fp16'` for `diffusion_pytorch_model.fp16.safetensors`. When given, only
   * that variant is accepted. When omitted, the full-precision files are preferred and an `fp16` variant is
   * used only where a component has nothing else.
   */
  variant?: string;
  /** Passed on to the PyTorch checkpoint reader for `.bin` files. */
  torch?: TorchCheckpointOptions;
}

/** Weight file base names, in the order diffusers / transformers look for them. */
const BASE_NAMES = ['diffusion_pytorch_model', 'model', 'pytorch_model'] as const;
const EXTENSIONS = ['safetensors', 'bin'] as const;

/**
 * Opens a diffusers model folder lazily.
 *
 * - A pipeline folder (with `model_index.json`): every component subfolder that holds weights (`unet/`,
 *   `vae/`, `text_encoder/`, …) contributes its tensors under the prefix `<subfolder>.`, e.g.
 *   `unet.conv_in.weight`, `vae.decoder.conv_out.weight`, `text_encoder.text_model.embeddings…`. Components
 *   without weights (tokenizer, scheduler) are skipped; a subfolder with a `config.json` but no weight file
 *   is an error (an incomplete download).
 * - A single component folder (weights directly inside, no `model_index.json`): tensors keep their own keys.
 *
 * In each component, `diffusion_pytorch_model.*`, `model.*` and `pytorch_model.*` are looked for, safetensors
 * before PyTorch `.bin`, and sharded weights through their `*.index.json` (`weight_map`). Keys stay in the
 * diffusers / transformers naming: the tables mapping them to the original checkpoint names
 * (`model.diffusion_model.*`, `first_stage_model.*`, `cond_stage_model.*`) belong to the model packages,
 * which scope a view by component (`weights.scope('unet.')`) and translate there.
 */
export function openDiffusersFolder(path: string, options: DiffusersFolderOptions = {}): TensorSource {
  const index = join(path, 'model_index.json');
  const parts: SourcePart[] = [];
  const metadata: Record<string, string> = { format: 'diffusers' };
  try {
    if (existsSync(index)) {
      let components: string[];
      try {
        const json = JSON.parse(readFileSync(index, 'utf8')) as Record<string, unknown>;
        components = Object.entries(json)
          .filter(([k, v]) => !k.startsWith('_') && Array.isArray(v) && v[0] !== null)
          .map(([k]) => k);
      } catch (e) {
        throw new WeightFileError(index, `not valid JSON: ${(e as Error).message}`);
      }
      for (const c of components.sort()) {
        const dir = join(path, c);
        if (!isDir(dir)) continue;
        const found = openComponent(dir, options);
        if (found) {
          parts.push({ source: found.source, prefix: `${c}.` });
          metadata[`files.${c}`] = found.files.map((f) => `${c}/${f}`).join(', ');
        } else if (existsSync(join(dir, 'config.json'))) {
          throw new WeightFileError(dir, `component "${c}" has a config.json but no weight file (${expectedNames(options.variant)})`);
        }
      }
      if (!parts.length) throw new WeightFileError(path, `model_index.json lists no component folder with weights (${components.join(', ') || 'none'})`);
    } else {
      const found = openComponent(path, options);
      if (!found) throw new WeightFileError(path, `neither a diffusers pipeline (no model_index.json) nor a model folder (${expectedNames(options.variant)})`);
      parts.push({ source: found.source, prefix: '' });
      metadata.files = found.files.join(', ');
    }
    return mergeSources(path, parts, metadata);
  } catch (e) {
    for (const p of parts) p.source.close();
    throw e;
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function expectedNames(variant: string | undefined): string {
  const v = variant ? `.${variant}` : '';
  return `expected e.g. diffusion_pytorch_model${v}.safetensors, model${v}.safetensors, pytorch_model${v}.bin or a sharded *.index.json`;
}

/** Finds and opens the weights of one component folder; undefined when it holds none. */
function openComponent(dir: string, options: DiffusersFolderOptions): { source: TensorSource; files: string[] } | undefined {
  const present = new Set(readdirSync(dir));
  const variants = options.variant !== undefined ? [options.variant] : [undefined, 'fp16'];
  for (const variant of variants) {
    for (const base of BASE_NAMES) {
      for (const ext of EXTENSIONS) {
        const single = variant ? `${base}.${variant}.${ext}` : `${base}.${ext}`;
        if (present.has(single)) return { source: openFile(join(dir, single), options), files: [single] };
        // diffusers names variant indexes `<base>.<ext>.index.<variant>.json`; older exports `<base>.<variant>.<ext>.index.json`.
        const indexes = variant ? [`${base}.${ext}.index.${variant}.json`, `${base}.${variant}.${ext}.index.json`] : [`${base}.${ext}.index.json`];
        const idx = indexes.find((n) => present.has(n));
        if (idx) return openSharded(dir, idx, options);
      }
    }
  }
  return undefined;
}

function openFile(file: string, options: DiffusersFolderOptions): TensorSource {
  return file.endsWith('.safetensors') ? openSafetensors(file) : openTorchCheckpoint(file, options.torch);
}

function openSharded(dir: string, indexName: string, options: DiffusersFolderOptions): { source: TensorSource; files: string[] } {
  const indexPath = join(dir, indexName);
  let weightMap: Record<string, unknown>;
  try {
    const json = JSON.parse(readFileSync(indexPath, 'utf8')) as { weight_map?: unknown };
    if (typeof json.weight_map !== 'object' || json.weight_map === null) throw new Error('no "weight_map" object');
    weightMap = json.weight_map as Record<string, unknown>;
  } catch (e) {
    throw new WeightFileError(indexPath, `not a valid sharded-weights index: ${(e as Error).message}`);
  }
  const files = [...new Set(Object.values(weightMap))];
  for (const f of files) {
    if (typeof f !== 'string' || f.includes('/') || f.includes('\\')) throw new WeightFileError(indexPath, `weight_map names an invalid shard file ${JSON.stringify(f)}`);
  }
  const parts: SourcePart[] = [];
  try {
    for (const f of files as string[]) {
      const p = join(dir, f);
      if (!existsSync(p)) throw new WeightFileError(indexPath, `shard "${f}" listed in weight_map is missing`);
      parts.push({ source: openFile(p, options), prefix: '' });
    }
    const merged = mergeSources(indexPath, parts);
    const entries = merged.entries();
    for (const [key, f] of Object.entries(weightMap)) {
      const e = entries.get(key);
      if (!e) throw new WeightFileError(join(dir, f as string), 'tensor listed in the index is missing from its shard', key);
    }
    return { source: merged, files: [indexName, ...(files as string[])] };
  } catch (e) {
    for (const p of parts) p.source.close();
    throw e;
  }
}
