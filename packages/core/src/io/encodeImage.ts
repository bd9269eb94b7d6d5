import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { ALPHA_FORMATS, SIXTEEN_BIT_FORMATS, type ImageFormat } from './imageFormat.js';
import { quantize, type QuantizeMode } from './quantize.js';
import { checkRawImage, isRawImage, type RawImage } from './rawImage.js';

export interface EncodeOptions {
  format: ImageFormat;
  /** `[1, H, W, 1]` in [0, 1], re-attached as the alpha channel (only with a tensor image). */
  alpha?: tf.Tensor4D;
  /** Float → integer rule for tensor input (default `truncate`, the reference's). */
  quantize?: QuantizeMode;
  /** 8 (default) or 16 bits per sample; 16 is PNG only. */
  bitDepth?: 8 | 16;
  /** Write one gray channel (luminance) instead of RGB, e.g. because the source was grayscale. */
  grayscale?: boolean;
  /** JPEG / WebP quality 1…100 (default 95). */
  quality?: number;
}

/**
 * Encodes an image to PNG / JPEG / WebP / TIFF bytes. `image` is either an RGB tensor `[1, H, W, 3]` in [-1, 1]
 * (quantised with `quantize`) or a {@link RawImage} (written as is; its sample type sets the bit depth
 * unless `bitDepth` is given). JPEG has no alpha: an alpha channel is composited over white.
 */
export async function encodeImage(image: tf.Tensor4D | RawImage, opts: EncodeOptions): Promise<Buffer> {
  const raw = isRawImage(image) ? image : await tensorToRaw(image, opts);
  checkRawImage(raw, 'image to encode');
  const sourceDepth = raw.data instanceof Uint16Array ? 16 : 8;
  const bitDepth = opts.bitDepth ?? sourceDepth;
  if (bitDepth === 16 && !SIXTEEN_BIT_FORMATS.includes(opts.format)) {
    throw new Error(`16-bit output is supported for ${SIXTEEN_BIT_FORMATS.join(', ')} only, not ${opts.format}`);
  }
  const samples = convertDepth(raw.data, bitDepth);
  const hasAlpha = raw.channels === 2 || raw.channels === 4;
  let s = sharp(samples, { raw: { width: raw.width, height: raw.height, channels: raw.channels } });
  if (hasAlpha && !ALPHA_FORMATS.includes(opts.format)) s = s.flatten({ background: '#ffffff' });
  const gray = opts.grayscale ?? raw.channels <= 2;
  if (bitDepth === 16) s = s.toColourspace(gray ? 'grey16' : 'rgb16');
  else if (gray) s = s.toColourspace('b-w');
  const quality = opts.quality ?? 95;
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) throw new Error(`quality must be an integer in 1…100, got ${quality}`);
  switch (opts.format) {
    case 'png':
      s = s.png();
      break;
    case 'jpeg':
      s = s.jpeg({ quality, chromaSubsampling: quality >= 90 ? '4:4:4' : '4:2:0' });
      break;
    case 'webp':
      s = s.webp({ quality });
      break;
    case 'tiff':
      s = s.tiff({ compression: 'lzw' });
      break;
    default:
      throw new Error(`unsupported output format "${String(opts.format)}"`);
  }
  return s.toBuffer();
}

async function tensorToRaw(rgb: tf.Tensor4D, opts: EncodeOptions): Promise<RawImage> {
  const [b, height, width, c] = rgb.shape;
  if (b !== 1 || c !== 3) throw new Error(`image tensor must be [1, H, W, 3], got [${rgb.shape.join(', ')}]`);
  const mode = opts.quantize ?? 'truncate';
  const bitDepth = opts.bitDepth ?? 8;
  const colour = quantize(await rgb.data<'float32'>(), { mode, bitDepth, signed: true });
  if (!opts.alpha) return { data: colour, width, height, channels: 3 };
  const [ab, ah, aw, ac] = opts.alpha.shape;
  if (ab !== 1 || ah !== height || aw !== width || ac !== 1) throw new Error(`alpha must be [1, ${height}, ${width}, 1], got [${opts.alpha.shape.join(', ')}]`);
  const a = quantize(await opts.alpha.data<'float32'>(), { mode, bitDepth, signed: false });
  const n = width * height;
  const out = bitDepth === 16 ? new Uint16Array(n * 4) : new Uint8Array(n * 4);
  for (let p = 0; p < n; p++) {
    out[p * 4] = colour[p * 3]!;
    out[p * 4 + 1] = colour[p * 3 + 1]!;
    out[p * 4 + 2] = colour[p * 3 + 2]!;
    out[p * 4 + 3] = a[p]!;
  }
  return { data: out, width, height, channels: 4 };
}

/** Rescales integer samples between 8 and 16 bits (×257 / ÷257, exact at both ends). */
function convertDepth(data: Uint8Array | Uint16Array, bitDepth: 8 | 16): Uint8Array | Uint16Array {
  if (bitDepth === 16 && data instanceof Uint8Array) return Uint16Array.from(data, (v) => v * 257);
  if (bitDepth === 8 && data instanceof Uint16Array) return Uint8Array.from(data, (v) => Math.round(v / 257));
  return data;
}
