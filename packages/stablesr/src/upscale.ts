import { type EngineOptions, type ProgressCallback, type RawImage, weightKeysIfReadable } from '@stablesr/core';
import { loadDefaultUpscaler } from '@stablesr/default-model';
import { IRSDEUpscaler, isConditionalUNetStateDict } from '@stablesr/irsde';
import { StableSR } from './stableSR.js';

/** Options of {@link upscale}: the model, and the settings every model family takes. */
export interface UpscaleCallOptions extends EngineOptions {
  /**
   * A StableSR checkpoint or an IR-SDE state dict (told apart by their keys). Default: the shipped 4× model of
   * `@stablesr/default-model`, offline, checksum-verified.
   */
  checkpoint?: string;
  /** StableSR only: the CFW autoencoder (`vqgan_cfw_00011.ckpt`). */
  cfw?: string;
  /** Output / input size ratio. IR-SDE models: the one they were trained for (4 for the default). */
  scale?: number;
  /** Sampling steps (default the model's own: T for IR-SDE, the official scripts' for StableSR). */
  steps?: number;
  seed?: number;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

/** What {@link upscale} returns. */
export interface UpscaleCallResult {
  /** 8-bit RGB (StableSR keeps an input's alpha). */
  image: RawImage;
  /** `default` (the shipped model), `irsde` or `stablesr`. */
  model: 'default' | 'irsde' | 'stablesr';
  seconds: number;
}

/**
 * One-call super-resolution: `const { image } = await upscale('photo.png', { scale: 4 })`. Loads the model, runs it,
 * releases it; to upscale many images, load once with {@link loadDefaultUpscaler}, `IRSDEUpscaler.load` or
 * {@link StableSR.load} instead. Input: a file path, encoded bytes or a {@link RawImage}.
 */
export async function upscale(input: string | Buffer | Uint8Array | RawImage, opts: UpscaleCallOptions = {}): Promise<UpscaleCallResult> {
  const t0 = performance.now();
  const { checkpoint, cfw, scale, steps, seed, onProgress, signal, ...engine } = opts;
  const run = { ...(scale !== undefined && { scale }), ...(steps !== undefined && { steps }), ...(seed !== undefined && { seed }), ...(onProgress && { onProgress }), ...(signal && { signal }) };
  // A file whose keys are not the authors' ConditionalUNet goes to the StableSR loader, which names what is wrong.
  const keys = checkpoint === undefined ? undefined : weightKeysIfReadable(checkpoint);
  const family = checkpoint === undefined ? 'default' : keys && isConditionalUNetStateDict(keys) ? 'irsde' : 'stablesr';
  if (family !== 'stablesr' && cfw !== undefined) throw new Error(`option cfw applies to StableSR checkpoints; ${checkpoint ?? 'the default model'} is an IR-SDE model`);
  if (family === 'stablesr') {
    const sr = await StableSR.load({ checkpoint: checkpoint!, ...(cfw !== undefined && { cfw }), ...engine });
    try {
      const r = await sr.upscale(input, run);
      return { image: r.image, model: 'stablesr', seconds: (performance.now() - t0) / 1000 };
    } finally {
      sr.dispose();
    }
  }
  const model = family === 'default' ? await loadDefaultUpscaler(engine) : await IRSDEUpscaler.load({ checkpoint: checkpoint!, ...engine });
  try {
    const r = await model.upscale(input, run);
    return { image: r.image, model: family, seconds: (performance.now() - t0) / 1000 };
  } finally {
    model.dispose();
  }
}
