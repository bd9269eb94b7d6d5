import { writeImage } from '@stablesr/core';
import { IRSDEUpscaler, IRSDE_DEFAULTS, checkIrsdeSteps } from '@stablesr/irsde';
import { UsageError } from '../usageError.js';
import { mkdirSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { CliIo } from '../cliIo.js';
import { startUpscale } from './startUpscale.js';
import { describeEngine } from '../options/engineOptions.js';
import { formatBytes, peakRssBytes } from '../resourceUsage.js';
import type { UpscaleCliOptions } from '../upscaleOptions.js';
import type { UpscaleImageResult } from './upscale.js';

/**
 * `stablesr upscale` with an IR-SDE checkpoint: loads the `ConditionalUNet` (structure read off its keys), then each
 * image runs the official test.py (μ = bicubic, x_T, `--steps` reverse steps of `--sampler`, pixel tiles above
 * `--tile-size`) and is written atomically. Same exit codes and `--json` shape as the StableSR path, with
 * `"model": "irsde"`.
 */
export async function upscaleIrsdeCommand(opts: UpscaleCliOptions, io: CliIo): Promise<number> {
  const t0 = performance.now();
  const ir = opts.irsde!;
  const { infos, backend, engine, bar } = await startUpscale(opts, io);
  const model = await IRSDEUpscaler.load({ checkpoint: opts.checkpoint, ...opts.engine });
  // --steps against the model's own T, before any image is read.
  const stepsProblem = checkIrsdeSteps(model.sde.T ?? IRSDE_DEFAULTS.T, ir.steps, ir.sampler ?? model.defaults.sampler, '--steps');
  if (stepsProblem) {
    model.dispose();
    throw new UsageError(stepsProblem);
  }
  const loadSeconds = round1((performance.now() - t0) / 1000);
  const results: UpscaleImageResult[] = [];
  try {
    for (const [i, job] of opts.jobs.entries()) {
      const info = infos.get(job.input)!;
      const start = performance.now();
      const base: UpscaleImageResult = { input: job.input, output: job.output, inputSize: { width: info.width, height: info.height }, seconds: 0 };
      const label = opts.batch ? `[${i + 1}/${opts.jobs.length}] ${basename(job.input)}` : '';
      try {
        io.signal?.throwIfAborted();
        const res = await model.upscale(job.input, { ...ir, onProgress: (ev) => bar.update(ev, label), ...(io.signal && { signal: io.signal }) });
        mkdirSync(dirname(job.output), { recursive: true });
        await writeImage(job.output, res.image, { format: job.format, grayscale: info.grayscale });
        results.push({ ...base, outputSize: { width: res.image.width, height: res.image.height }, ...(res.seed !== undefined && { seed: res.seed }), steps: res.steps, seconds: round1((performance.now() - start) / 1000) });
      } catch (e) {
        if (io.signal?.aborted || !opts.batch) throw e;
        results.push({ ...base, seconds: round1((performance.now() - start) / 1000), error: (e as Error).message.split('\n')[0]! });
      }
    }
  } finally {
    bar.clear();
    model.dispose();
  }
  const failed = results.filter((r) => r.error);
  const ran = { engine: engine.engine, provider: engine.provider, threads: engine.threads };
  const seconds = round1((performance.now() - t0) / 1000);
  if (opts.json) io.out(JSON.stringify({ command: 'upscale', model: 'irsde', ok: failed.length === 0, backend: backend.name, engine: ran, loadSeconds, seconds, peakRssBytes: peakRssBytes(), images: results }, null, 2));
  else if (!opts.quiet) {
    const tail = `in ${seconds.toFixed(1)} s (IR-SDE, ${describeEngine(ran)}, peak memory ${formatBytes(peakRssBytes())})`;
    io.out(opts.batch ? `upscaled ${results.length - failed.length} of ${results.length} images into ${dirname(opts.jobs[0]!.output)} ${tail}` : `wrote ${results[0]!.output}: ${results[0]!.inputSize.width}×${results[0]!.inputSize.height} → ${results[0]!.outputSize!.width}×${results[0]!.outputSize!.height} ${tail}`);
  }
  for (const f of failed) io.err(`stablesr: ${f.input}: ${f.error}`);
  return failed.length === 0 ? 0 : 1;
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
