/** The flags that say which weights to load and how (parseArgs specs): `upscale`'s, and `serve`'s / `worker`'s. */
export const WEIGHT_FLAGS = {
  checkpoint: { type: 'string' },
  model: { type: 'string' },
  cfw: { type: 'string' },
  config: { type: 'string' },
  'cfw-config': { type: 'string' },
  'text-encoder': { type: 'string' },
  tokenizer: { type: 'string' },
  preset: { type: 'string' },
  'vae-tile-size': { type: 'string' },
  weights: { type: 'string' },
} as const;
