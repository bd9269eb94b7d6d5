import { type RawImage } from '@stablesr/core';

/** What {@link StableSR.upscale} returns. */
export interface UpscaleResult {
  /** RGB, or RGBA when the input had alpha (the alpha upscaled separately with a bicubic resize). */
  image: RawImage;
  width: number;
  height: number;
  /** Wall time of the call. */
  seconds: number;
  inputWidth: number;
  inputHeight: number;
  /** The input was grayscale: the output is RGB, a writer may store it as gray. */
  grayscale: boolean;
  /** Network evaluations done (steps × tiles × patches). */
  evaluations: number;
  /** The seed used, when the default noise source was used. */
  seed?: number;
  /**
   * Where the time went, in seconds: `load` = engine sessions built during this call (the first image of a shape),
   * `encode` = VAE encoder, `sample` = time-aware encoder + U-Net over every step and tile, `decode` = CFW encoder
   * features + decoder; `total` = {@link seconds}. Stages exclude the session builds counted in `load`.
   */
  timings: UpscaleTimings;
  /** Sampling steps per latent tile, and latent tiles per step (summed over pixel patches). */
  steps: number;
  tiles: number;
}

export interface UpscaleTimings {
  load: number;
  encode: number;
  sample: number;
  decode: number;
  total: number;
}
