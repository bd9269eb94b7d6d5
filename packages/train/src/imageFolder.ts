import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import sharp from 'sharp';
import { INPUT_EXTENSIONS, imageDecodeError } from '@stablesr/core';

/** A training image in memory: 8-bit RGB, interleaved, row-major. */
export interface TrainingImage {
  /** File name inside the data folder (the key of splits and model cards). */
  name: string;
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * Every image file of `dir` (by extension; other files are ignored, sub-folders too), sorted by name, decoded to
 * 8-bit RGB (EXIF orientation applied, alpha dropped, gray expanded). A missing or empty folder, an image that does
 * not decode, or one with a side below `minSide` is an error naming the folder or file.
 */
export async function readImageFolder(dir: string, minSide = 1): Promise<TrainingImage[]> {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new Error(`--data ${dir}: not a folder`);
    names = readdirSync(dir).filter((n) => INPUT_EXTENSIONS.includes(extname(n).toLowerCase()) && statSync(join(dir, n)).isFile()).sort();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`--data ${dir}: no such folder`);
    if (code) throw new Error(`--data ${dir}: cannot read (${code})`);
    throw e;
  }
  if (names.length === 0) throw new Error(`--data ${dir}: no images (looked for ${INPUT_EXTENSIONS.join(', ')})`);
  const images: TrainingImage[] = [];
  for (const name of names) {
    const path = join(dir, name);
    let raw: { data: Buffer; info: sharp.OutputInfo };
    try {
      raw = await sharp(path, { failOn: 'error' }).autoOrient().removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    } catch (e) {
      throw imageDecodeError(path, e);
    }
    const { width, height, channels } = raw.info;
    if (Math.min(width, height) < minSide) throw new Error(`${path}: ${width}×${height} is smaller than the ${minSide}×${minSide} training patch`);
    let data = new Uint8Array(raw.data.buffer, raw.data.byteOffset, raw.data.length);
    if (channels !== 3) data = toRgb(data, channels, width * height);
    images.push({ name, width, height, data });
  }
  return images;
}

function toRgb(src: Uint8Array, channels: number, n: number): Uint8Array {
  const out = new Uint8Array(n * 3);
  for (let p = 0; p < n; p++) for (let c = 0; c < 3; c++) out[p * 3 + c] = src[p * channels + (channels >= 3 ? c : 0)]!;
  return out;
}
