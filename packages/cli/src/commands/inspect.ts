import { isFloatDType, openTensorSource, type OpenWeightsOptions, shapeSize } from '@stablesr/core';

export interface InspectResult {
  file: string;
  keys: number;
  parameters: number;
  dtypes: Record<string, number>;
  tensors: Array<{ name: string; dtype: string; shape: number[] }>;
  metadata: Record<string, string>;
}

/**
 * Reads a weight file's index (no tensor data) and summarises it: safetensors, PyTorch zip checkpoints
 * (Lightning `state_dict`, with `epoch`/`global_step` as metadata) and diffusers folders.
 */
export function inspectWeights(path: string, options: OpenWeightsOptions = {}): InspectResult {
  const src = openTensorSource(path, options);
  try {
    const tensors = [...src.entries().values()].map((e) => ({ name: e.name, dtype: e.dtype, shape: [...e.shape] }));
    tensors.sort((a, b) => a.name.localeCompare(b.name));
    const dtypes: Record<string, number> = {};
    let parameters = 0;
    for (const t of tensors) {
      dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + 1;
      if (isFloatDType(t.dtype as never)) parameters += shapeSize(t.shape);
    }
    return { file: path, keys: tensors.length, parameters, dtypes, tensors, metadata: { ...src.metadata } };
  } finally {
    src.close();
  }
}

export function formatInspect(r: InspectResult): string[] {
  const lines = r.tensors.map((t) => `${t.name}\t${t.dtype}\t[${t.shape.join(', ')}]`);
  const dt = Object.entries(r.dtypes).map(([d, n]) => `${d}: ${n}`).join(', ');
  const meta = Object.entries(r.metadata);
  if (meta.length) lines.push(`metadata: ${meta.map(([k, v]) => `${k}=${v}`).join(', ')}`);
  lines.push(`${r.file}: ${r.keys} tensors (${dt}), ${r.parameters.toLocaleString('en-US')} floating-point parameters`);
  return lines;
}
