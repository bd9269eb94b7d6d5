import { statSync } from 'node:fs';
import sharp from 'sharp';
import { INPUT_FORMATS } from './imageFormat.js';

/** What an image file holds, read from its header only (no pixel decoding). */
export interface ImageInfo {
  format: string;
  /** Size after EXIF orientation. */
  width: number;
  height: number;
  /** 8, or 16 for anything wider (decoded through the 16-bit path). */
  bitDepth: 8 | 16;
  grayscale: boolean;
  hasAlpha: boolean;
}

/** sharp sample formats wider than 8 bits. */
const WIDE_DEPTHS = new Set(['ushort', 'short', 'uint', 'int', 'float', 'double', 'complex', 'dpcomplex']);

/**
 * Reads an image's header: cheap enough to validate every input before a model is loaded. Missing, empty,
 * non-image, unsupported or corrupt-header input throws an error that starts with `name` (the path by default).
 */
export async function probeImage(input: string | Buffer | Uint8Array, name = typeof input === 'string' ? input : 'image buffer'): Promise<ImageInfo> {
  if (typeof input === 'string') checkImageFile(input);
  else if (input.length === 0) throw new Error(`${name}: empty image data (0 bytes)`);
  let meta: sharp.Metadata;
  try {
    meta = await sharp(input).metadata();
  } catch (e) {
    throw imageDecodeError(name, e);
  }
  if (!meta.format || !INPUT_FORMATS.includes(meta.format)) {
    throw new Error(`${name}: unsupported image format "${meta.format ?? 'unknown'}" (supported: ${INPUT_FORMATS.join(', ')})`);
  }
  if (!meta.width || !meta.height) throw new Error(`${name}: image has no pixels`);
  return {
    format: meta.format,
    width: meta.autoOrient?.width ?? meta.width,
    height: meta.autoOrient?.height ?? meta.height,
    bitDepth: WIDE_DEPTHS.has(meta.depth ?? 'uchar') ? 16 : 8,
    grayscale: meta.space === 'b-w' || meta.space === 'grey16' || (meta.channels !== undefined && meta.channels <= 2),
    hasAlpha: meta.hasAlpha ?? false,
  };
}

/** Missing, folder and empty paths are refused with the path in the message. */
export function checkImageFile(path: string): void {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `${path}: no such file` : `${path}: cannot read (${code ?? (e as Error).message})`);
  }
  if (st.isDirectory()) throw new Error(`${path}: is a directory, expected an image file`);
  if (st.size === 0) throw new Error(`${path}: empty file (0 bytes)`);
}

/** sharp's decoder messages, reworded to one line that names the input. */
export function imageDecodeError(name: string, e: unknown): Error {
  const msg = (e as Error).message ?? String(e);
  if (/unsupported image format/i.test(msg)) return new Error(`${name}: not an image in a supported format (supported: ${INPUT_FORMATS.join(', ')})`);
  return new Error(`${name}: cannot decode image (${msg.split('\n')[0]})`);
}
