import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { imageDecodeError, probeImage } from './probeImage.js';
import { checkRawImage, isRawImage, type DecodedImage, type RawImage } from './rawImage.js';

/**
 * Decodes an image for the networks: a file path, an encoded image in a Buffer, or a {@link RawImage}.
 * EXIF orientation is applied; grayscale becomes three equal channels (`grayscale: true` is reported);
 * 16-bit sources are read at full precision (`x / 65535`); alpha is split off into `alpha` in [0, 1].
 * Unreadable, empty, corrupt or unsupported input throws an error that names the file.
 */
export async function readImage(input: string | Buffer | Uint8Array | RawImage, opts: { name?: string } = {}): Promise<DecodedImage> {
  if (isRawImage(input)) return fromRaw(input, opts.name ?? 'raw image', 'raw', input.channels <= 2);
  const name = opts.name ?? (typeof input === 'string' ? input : 'image buffer');
  const info = await probeImage(input, name);
  const wide = info.bitDepth === 16;
  let raw: { data: Buffer; info: sharp.OutputInfo };
  try {
    // `failOn: 'error'` rejects truncated files instead of returning half-grey pictures.
    raw = await sharp(input, { failOn: 'error' })
      .autoOrient()
      .toColourspace(wide ? 'rgb16' : 'srgb')
      .raw({ depth: wide ? 'ushort' : 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw imageDecodeError(name, e);
  }
  const { width, height, channels } = raw.info;
  const data = wide ? new Uint16Array(raw.data.buffer, raw.data.byteOffset, raw.data.length / 2) : new Uint8Array(raw.data.buffer, raw.data.byteOffset, raw.data.length);
  return fromRaw({ data, width, height, channels: channels as RawImage['channels'] }, name, info.format, info.grayscale);
}

/** Splits interleaved samples into the [-1, 1] RGB tensor and the [0, 1] alpha tensor. */
function fromRaw(img: RawImage, name: string, format: string, grayscale: boolean): DecodedImage {
  checkRawImage(img, name);
  const { data, width, height, channels } = img;
  const bitDepth = data instanceof Uint16Array ? 16 : 8;
  const max = bitDepth === 16 ? 65535 : 255;
  const f = Math.fround;
  const n = width * height;
  const colour = channels >= 3 ? 3 : 1;
  const hasAlpha = channels === 2 || channels === 4;
  const rgb = new Float32Array(n * 3);
  const alpha = hasAlpha ? new Float32Array(n) : undefined;
  for (let p = 0; p < n; p++) {
    const s = p * channels;
    // As the reference's load_img in float32: `2 * (x / 255) - 1`.
    for (let c = 0; c < 3; c++) rgb[p * 3 + c] = 2 * f(data[s + (colour === 3 ? c : 0)]! / max) - 1;
    if (alpha) alpha[p] = data[s + colour]! / max;
  }
  const out: DecodedImage = { rgb: tf.tensor4d(rgb, [1, height, width, 3]), width, height, bitDepth, grayscale, format };
  if (alpha) out.alpha = tf.tensor4d(alpha, [1, height, width, 1]);
  return out;
}
