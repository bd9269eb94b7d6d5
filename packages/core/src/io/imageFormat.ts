import { extname } from 'node:path';

/** Formats {@link writeImage} / {@link encodeImage} can produce. */
export type ImageFormat = 'png' | 'jpeg' | 'webp' | 'tiff';

/** Output file extensions and the format each selects. */
export const OUTPUT_EXTENSIONS: Readonly<Record<string, ImageFormat>> = { '.png': 'png', '.jpg': 'jpeg', '.jpeg': 'jpeg', '.webp': 'webp', '.tif': 'tiff', '.tiff': 'tiff' };

/** Container formats {@link readImage} accepts (as sharp's metadata names them). */
export const INPUT_FORMATS: readonly string[] = ['png', 'jpeg', 'webp', 'tiff', 'gif', 'avif', 'heif'];

/** Input file extensions recognised when scanning folders and validating paths. */
export const INPUT_EXTENSIONS: readonly string[] = ['.png', '.jpg', '.jpeg', '.webp', '.tif', '.tiff', '.gif', '.avif', '.heic', '.heif'];

/** Formats that can carry 16 bits per sample. */
export const SIXTEEN_BIT_FORMATS: readonly ImageFormat[] = ['png'];

/** Formats that keep an alpha channel (JPEG does not: alpha is composited over white). */
export const ALPHA_FORMATS: readonly ImageFormat[] = ['png', 'webp', 'tiff'];

/** The output format for a path, by extension; throws an error naming the path and listing the supported ones. */
export function outputFormatFor(path: string): ImageFormat {
  const ext = extname(path).toLowerCase();
  const f = OUTPUT_EXTENSIONS[ext];
  if (!f) throw new Error(`${path}: unsupported output format "${ext || '(no extension)'}" (supported: ${Object.keys(OUTPUT_EXTENSIONS).join(', ')})`);
  return f;
}

/** True when the path's extension is one {@link readImage} is expected to decode. */
export function isInputImagePath(path: string): boolean {
  return INPUT_EXTENSIONS.includes(extname(path).toLowerCase());
}
