import { type ImageInfo, initBackend, probeImage } from '@stablesr/core';
import type { CliIo } from '../cliIo.js';
import { startEngine } from '../options/engineOptions.js';
import { ProgressBar } from '../progressBar.js';
import type { UpscaleCliOptions } from '../upscaleOptions.js';
import { UsageError } from '../usageError.js';

/**
 * What every `upscale` run does before its model loads: every input's header is checked (a broken image is a usage
 * error, found before any weights are read), then the tfjs backend and the engine start, and the progress bar.
 */
export async function startUpscale(opts: UpscaleCliOptions, io: CliIo) {
  const infos = new Map<string, ImageInfo>();
  for (const job of opts.jobs) {
    try {
      infos.set(job.input, await probeImage(job.input));
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  const backend = await initBackend(opts.backend);
  const engine = await startEngine(opts.engine);
  const bar = new ProgressBar(opts.quiet ? undefined : io.progress);
  return { infos, backend, engine, bar };
}
