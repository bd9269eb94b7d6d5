import { type Xoshiro128, matlabResize } from '@stablesr/core';
import { type TrainingImage } from './imageFolder.js';

/** A batch of training pairs, NHWC float32 in [0, 1]: `hq` [B, P, P, 3] and its `lq` [B, P/scale, P/scale, 3]. */
export interface PatchBatch {
  hq: Float32Array;
  lq: Float32Array;
  batch: number;
  patch: number;
  scale: number;
}

export interface PatchBatchOptions {
  batch: number;
  /** HQ patch side; a multiple of `scale`. */
  patch: number;
  scale: number;
  /** Random flips and 90° rotations (the official `augment(hflip, rot)`); default true. */
  augment?: boolean;
}

/**
 * Draws a batch as the official SR datasets do: a random image, a random `patch`² crop, a random horizontal flip,
 * vertical flip and transpose (the eight symmetries of the square), and the LQ made by MATLAB bicubic downscaling
 * then 8-bit quantisation (the LQ an upscaler will see is an 8-bit image). Deterministic for the generator's state.
 */
export function samplePatchBatch(images: readonly TrainingImage[], rng: Xoshiro128, o: PatchBatchOptions): PatchBatch {
  const { batch, patch, scale } = o;
  if (patch % scale !== 0) throw new Error(`--patch ${patch} must be a multiple of --scale ${scale}`);
  if (images.length === 0) throw new Error('no training images');
  const lp = patch / scale;
  const hq = new Float32Array(batch * patch * patch * 3);
  const lq = new Float32Array(batch * lp * lp * 3);
  for (let b = 0; b < batch; b++) {
    const img = images[rng.nextInt(images.length)]!;
    if (img.width < patch || img.height < patch) throw new Error(`${img.name}: ${img.width}×${img.height} is smaller than the ${patch}×${patch} training patch`);
    const top = rng.nextInt(img.height - patch + 1);
    const left = rng.nextInt(img.width - patch + 1);
    const aug = o.augment ?? true;
    const hflip = aug && rng.nextInt(2) === 1;
    const vflip = aug && rng.nextInt(2) === 1;
    const transpose = aug && rng.nextInt(2) === 1;
    const out = hq.subarray(b * patch * patch * 3, (b + 1) * patch * patch * 3);
    for (let y = 0; y < patch; y++) {
      for (let x = 0; x < patch; x++) {
        let sy = transpose ? x : y;
        let sx = transpose ? y : x;
        if (vflip) sy = patch - 1 - sy;
        if (hflip) sx = patch - 1 - sx;
        const s = ((top + sy) * img.width + left + sx) * 3;
        const d = (y * patch + x) * 3;
        out[d] = img.data[s]! / 255;
        out[d + 1] = img.data[s + 1]! / 255;
        out[d + 2] = img.data[s + 2]! / 255;
      }
    }
    lq.set(degradeBicubic(out, patch, patch, scale), b * lp * lp * 3);
  }
  return { hq, lq, batch, patch, scale };
}

/** The LQ of an HQ image [H, W, 3] in [0, 1]: MATLAB bicubic ÷scale, clamped and rounded to 8 bits. */
export function degradeBicubic(hq: Float32Array, height: number, width: number, scale: number): Float32Array {
  const lq = matlabResize(hq, height, width, 3, Math.ceil(height / scale), Math.ceil(width / scale));
  for (let i = 0; i < lq.length; i++) lq[i] = Math.round(Math.min(1, Math.max(0, lq[i]!)) * 255) / 255;
  return lq;
}
