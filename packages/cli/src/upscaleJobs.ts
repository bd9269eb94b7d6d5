import { INPUT_EXTENSIONS, OUTPUT_EXTENSIONS, SIXTEEN_BIT_FORMATS, isInputImagePath, type ImageFormat } from '@stablesr/core';
import { readdirSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { isDirectory, requireFile, requireWritableFile } from './options/checkPaths.js';
import { UsageError } from './usageError.js';

/** One image to upscale: where it comes from, where it goes, in which format. */
export interface UpscaleJob {
  input: string;
  output: string;
  format: ImageFormat;
}

const EXT_FOR: Record<ImageFormat, string> = { png: '.png', jpeg: '.jpg', webp: '.webp', tiff: '.tif' };

function outputFormat(path: string): ImageFormat | undefined {
  return OUTPUT_EXTENSIONS[extname(path).toLowerCase()];
}

/**
 * Turns `<input> <output>` into jobs. A file maps to a file (the output extension picks the format);
 * a folder maps to a folder (created if missing; each image keeps its name, and its format unless `format`
 * is given or the input format cannot be written, then PNG). Problems are usage errors naming the path.
 */
export function planJobs(input: string, output: string, opts: { format?: ImageFormat | undefined; bitDepth: 8 | 16 }): { jobs: UpscaleJob[]; batch: boolean } {
  let st;
  try {
    st = statSync(input);
  } catch {
    throw new UsageError(`no such input file or folder: ${input}`);
  }
  if (st.isDirectory()) {
    if (!isDirectory(output)) {
      try {
        statSync(output);
        throw new UsageError(`input ${input} is a folder, so the output must be a folder too, but ${output} is a file`);
      } catch (e) {
        if (e instanceof UsageError) throw e;
      }
    }
    if (resolve(input) === resolve(output)) throw new UsageError(`output folder ${output} is the input folder: the originals would be overwritten`);
    const names = readdirSync(input).filter((n) => !n.startsWith('.') && isInputImagePath(n) && statSync(join(input, n)).isFile()).sort();
    if (names.length === 0) throw new UsageError(`no images in ${input} (looked for ${INPUT_EXTENSIONS.join(' ')})`);
    const jobs = names.map((n) => {
      const format = opts.format ?? outputFormat(n) ?? 'png';
      const stem = basename(n, extname(n));
      const keep = !opts.format && outputFormat(n);
      return { input: join(input, n), output: join(output, keep ? n : stem + EXT_FOR[format]), format };
    });
    for (const j of jobs) check16(j.format, opts.bitDepth, j.output);
    // The folder itself is created only when the first image is written.
    return { jobs, batch: true };
  }
  requireFile('input', input);
  if (!isInputImagePath(input)) throw new UsageError(`${input}: unsupported input format "${extname(input) || '(no extension)'}" (supported: ${INPUT_EXTENSIONS.join(' ')})`);
  if (isDirectory(output)) throw new UsageError(`output ${output} is a folder but input ${input} is a file: give an output file name`);
  const format = outputFormat(output);
  if (!format) throw new UsageError(`${output}: unsupported output format "${extname(output) || '(no extension)'}" (supported: ${Object.keys(OUTPUT_EXTENSIONS).join(' ')})`);
  if (opts.format && opts.format !== format) throw new UsageError(`--format ${opts.format} contradicts the output file name ${output}`);
  requireWritableFile('output', output);
  if (resolve(input) === resolve(output)) throw new UsageError(`output ${output} is the input file: it would be overwritten`);
  check16(format, opts.bitDepth, output);
  return { jobs: [{ input, output, format }], batch: false };
}

function check16(format: ImageFormat, bitDepth: 8 | 16, output: string): void {
  if (bitDepth === 16 && !SIXTEEN_BIT_FORMATS.includes(format)) throw new UsageError(`--bit-depth 16 needs PNG output, not ${format} (${output})`);
}
