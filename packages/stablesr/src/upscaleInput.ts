import * as tf from '@tensorflow/tfjs-core';
import { type RawImage, readImage } from '@stablesr/core';

/** Accepted inputs: a file path, an encoded image, a {@link RawImage}, or a `[1, H, W, 3]` tensor in [-1, 1]. */
export type UpscaleInput = string | Buffer | Uint8Array | RawImage | tf.Tensor4D;

/** An input decoded to `[1, H, W, 3]` in [-1, 1] (+ its alpha); `owned`: the tensors were made here and are the caller's to dispose. */
export interface DecodedInput {
  rgb: tf.Tensor4D;
  alpha?: tf.Tensor4D;
  grayscale: boolean;
  owned: boolean;
}

/** Decodes any {@link UpscaleInput}; a tensor is checked and passed through (not owned). */
export async function decodeInput(input: UpscaleInput): Promise<DecodedInput> {
  if (input instanceof tf.Tensor) {
    const s = input.shape;
    if (input.rank !== 4 || s[0] !== 1 || s[3] !== 3) throw new Error(`upscale: an input tensor must be [1, H, W, 3] in [-1, 1], got [${s.join(', ')}]`);
    if (input.isDisposed) throw new Error('upscale: the input tensor is disposed');
    return { rgb: input, grayscale: false, owned: false };
  }
  if (input === undefined || input === null) throw new Error('upscale: no input image');
  const d = await readImage(input);
  return { rgb: d.rgb, ...(d.alpha ? { alpha: d.alpha } : {}), grayscale: d.grayscale, owned: true };
}
