import type * as tf from '@tensorflow/tfjs-core';
import { writeFileAtomic } from './atomicWrite.js';
import { encodeImage, type EncodeOptions } from './encodeImage.js';
import { outputFormatFor, type ImageFormat } from './imageFormat.js';
import type { RawImage } from './rawImage.js';

export type WriteImageOptions = Omit<EncodeOptions, 'format'> & { format?: ImageFormat };

/**
 * Encodes `image` (see {@link encodeImage}) in the format its extension names (`.png`, `.jpg`/`.jpeg`, `.webp`,
 * `.tif`/`.tiff`) and writes it atomically: the file appears complete or not at all.
 */
export async function writeImage(path: string, image: tf.Tensor4D | RawImage, opts: WriteImageOptions = {}): Promise<void> {
  const format = opts.format ?? outputFormatFor(path);
  let bytes: Buffer;
  try {
    bytes = await encodeImage(image, { ...opts, format });
  } catch (e) {
    throw new Error(`${path}: cannot encode image (${(e as Error).message})`);
  }
  await writeFileAtomic(path, bytes);
}
