import type { BackendChoice, ProgressCallback } from '@stablesr/core';

// Text-to-latent generation: @stablesr/unet has `generateLatents({ unet, text, decode, ... })` over loaded
// modules; the CLI needs the file-level loader on top of it, `TextToLatent.load(opts)` → `{ generate(opts),
// dispose() }` as typed below, where `generate` takes generateLatents' option names and returns its result.
// Until @stablesr/unet exports that loader, `loadTextToLatent` fails with one clear line.

/** A float tensor as the CLI uses it (structural, so the CLI needs no tfjs import). */
export interface TensorLike {
  readonly shape: number[];
  data(): Promise<Float32Array | Int32Array | Uint8Array>;
  dispose(): void;
}

export interface TextToLatentLoadOptions {
  checkpoint: string;
  config?: string;
  textEncoder?: string;
  tokenizer?: string;
  /** First-stage VAE weights (for decoding); default: the checkpoint. */
  vae?: string;
  backend?: BackendChoice;
}

export interface TextToLatentOptions {
  prompt: string;
  negativePrompt?: string;
  steps: number;
  guidanceScale: number;
  width: number;
  height: number;
  sampler: 'ddim' | 'ddpm' | 'dpmpp-2m' | 'euler-a';
  seed: number;
  /** Also decode the latents to an image. */
  decode: boolean;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

export interface TextToLatentResult {
  /** `[1, H/8, W/8, 4]` NHWC: the sampler's output (before the 1/scale_factor of decoding). */
  latents: TensorLike;
  /** `[1, H, W, 3]` in [-1, 1] (not clamped) when `decode` was asked for. */
  decoded?: TensorLike;
  /** `clamp((decoded + 1) / 2, 0, 1)`. */
  image?: TensorLike;
}

export interface TextToLatentModel {
  generate(opts: TextToLatentOptions): Promise<TextToLatentResult>;
  dispose(): void;
}

/** `TextToLatent.load(opts)` from @stablesr/unet, or a one-line error when this build has none. */
export async function loadTextToLatent(opts: TextToLatentLoadOptions): Promise<TextToLatentModel> {
  const mod = (await import('@stablesr/unet')) as Record<string, unknown>;
  const cls = mod.TextToLatent as { load?: (o: TextToLatentLoadOptions) => Promise<TextToLatentModel> } | undefined;
  if (typeof cls?.load !== 'function') throw new Error('this build has no text-to-latent generator yet (@stablesr/unet does not export TextToLatent.load)');
  return cls.load(opts);
}
