import type { BackendChoice, ProgressCallback, RawImage } from '@stablesr/core';

// The SR pipeline (packages/stablesr) is developed alongside the CLI. These types restate the team contract
// (`StableSR.load`, `sr.upscale`, `sr.dispose`) so that the CLI compiles and fails with a clear message
// while the pipeline is not exported yet; once it is, `loadStableSR` hands back the real object.

export interface StableSRLoadOptions {
  checkpoint: string;
  cfw?: string;
  config?: string;
  textEncoder?: string;
  tokenizer?: string;
  backend?: BackendChoice;
}

export interface StableSRUpscaleOptions {
  scale: number;
  steps: number;
  sampler: 'ddpm' | 'ddim';
  tileSize?: number;
  tileOverlap?: number;
  fidelity: number;
  colorFix: 'wavelet' | 'adain' | 'none';
  seed: number;
  prompt?: string;
  negativePrompt?: string;
  guidanceScale?: number;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

export interface StableSRResult {
  image: RawImage;
}

export interface StableSRModel {
  upscale(input: string | Buffer | RawImage, opts: StableSRUpscaleOptions): Promise<StableSRResult>;
  dispose(): void;
}

interface StableSRClass {
  load(opts: StableSRLoadOptions): Promise<StableSRModel>;
}

/** `StableSR.load(opts)` from @stablesr/stablesr, or a one-line error when this build has no pipeline. */
export async function loadStableSR(opts: StableSRLoadOptions): Promise<StableSRModel> {
  const mod = (await import('@stablesr/stablesr')) as Record<string, unknown>;
  const cls = mod.StableSR as Partial<StableSRClass> | undefined;
  if (typeof cls?.load !== 'function') throw new Error('this build has no SR pipeline yet (@stablesr/stablesr does not export StableSR.load)');
  return cls.load(opts);
}
