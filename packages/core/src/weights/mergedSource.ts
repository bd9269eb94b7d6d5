import { type TensorEntry, type TensorSource, WeightFileError } from './tensorSource.js';

/** One part of a merged source: its tensors appear under `prefix` + their own key. */
export interface SourcePart {
  source: TensorSource;
  prefix: string;
}

/**
 * Combines several sources (shards of one model, components of a pipeline) into one flat source.
 * Keys are `prefix + key`; the same final key in two parts is an error naming both files.
 * The merged source owns the parts: closing it closes them all.
 */
export function mergeSources(origin: string, parts: readonly SourcePart[], metadata: Record<string, string> = {}): TensorSource {
  const entries = new Map<string, TensorEntry>();
  const from = new Map<string, string>();
  for (const { source, prefix } of parts) {
    for (const [key, e] of source.entries()) {
      const name = prefix + key;
      const prev = from.get(name);
      if (prev !== undefined) throw new WeightFileError(origin, `key appears in both ${prev} and ${source.origin}`, name);
      from.set(name, source.origin);
      entries.set(name, prefix ? renamed(e, name) : e);
    }
  }
  return {
    origin,
    metadata,
    entries: () => entries,
    close: () => {
      for (const p of parts) p.source.close();
    },
  };
}

function renamed(e: TensorEntry, name: string): TensorEntry {
  const raw = e.readRaw;
  return { name, dtype: e.dtype, shape: e.shape, read: () => e.read(), ...(raw ? { readRaw: () => raw.call(e) } : {}) };
}
