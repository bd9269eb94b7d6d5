import type * as tf from '@tensorflow/tfjs-core';

/**
 * Interleaved pixels (row-major, channels last). `Uint8Array` data is 8-bit (0…255), `Uint16Array` data is
 * 16-bit (0…65535). `channels`: 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA.
 */
export interface RawImage {
  data: Uint8Array | Uint16Array;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

/** An image decoded for the networks (see {@link readImage}). */
export interface DecodedImage {
  /** `[1, H, W, 3]` float32 in [-1, 1] (`x / max · 2 − 1`). Grayscale input is expanded to three equal channels. */
  rgb: tf.Tensor4D;
  /** `[1, H, W, 1]` float32 in [0, 1] when the source has an alpha channel; the networks never see it. */
  alpha?: tf.Tensor4D;
  width: number;
  height: number;
  /** Bits per sample of the source: 8 or 16. */
  bitDepth: 8 | 16;
  /** True when the source was grayscale (1 or 2 channels); writers can write the result back as gray. */
  grayscale: boolean;
  /** Container format of the source (`png`, `jpeg`, …; `raw` for a {@link RawImage}). */
  format: string;
}

/** True when `x` looks like a {@link RawImage} (typed pixel data plus its geometry). */
export function isRawImage(x: unknown): x is RawImage {
  if (typeof x !== 'object' || x === null || Buffer.isBuffer(x)) return false;
  const r = x as Partial<RawImage>;
  return (r.data instanceof Uint8Array || r.data instanceof Uint16Array) && typeof r.width === 'number' && typeof r.height === 'number' && typeof r.channels === 'number';
}

/** Throws a clear error when a {@link RawImage}'s geometry and data disagree. */
export function checkRawImage(img: RawImage, name = 'raw image'): void {
  const { width, height, channels } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) throw new Error(`${name}: width and height must be positive integers, got ${width}×${height}`);
  if (![1, 2, 3, 4].includes(channels)) throw new Error(`${name}: channels must be 1, 2, 3 or 4, got ${channels}`);
  const want = width * height * channels;
  if (img.data.length !== want) throw new Error(`${name}: expected ${want} samples (${width}×${height}×${channels}), got ${img.data.length}`);
}
