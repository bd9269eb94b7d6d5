import { initBackend, probeImage, writeImage, type ImageInfo } from '@stablesr/core';
import { mkdirSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import pLimit from 'p-limit';
import type { CliIo } from '../cliIo.js';
import { loadStableSR, type StableSRUpscaleOptions } from '../pipeline.js';
import { ProgressBar } from '../progressBar.js';
import { formatBytes, peakRssBytes } from '../resourceUsage.js';
import type { UpscaleCliOptions } from '../upscaleOptions.js';
import type { UpscaleJob } from '../upscaleJobs.js';
import { UsageError } from '../usageError.js';

/** One line of `--json` output per image. */
export interface UpscaleImageResult {
  input: string;
  output: string;
  inputSize: { width: number; height: number };
  outputSize?: { width: number; height: number };
  seconds: number;
  error?: string;
}

export interface UpscaleRunResult {
  command: 'upscale';
  ok: boolean;
  backend: string;
  seconds: number;
  peakRssBytes: number;
  images: UpscaleImageResult[];
}

/**
 * Runs `stablesr upscale` with validated options: checks every input image's header (a broken image is a
 * usage error, found before the model loads), loads the model once, upscales the jobs with bounded
 * concurrency, writes each output atomically and prints a summary (or JSON). Returns the exit code:
 * 0 when every image was written, 1 when any failed (the others are still written).
 */
export async function upscaleCommand(opts: UpscaleCliOptions, io: CliIo): Promise<number> {
  const t0 = performance.now();
  const infos = new Map<string, ImageInfo>();
  for (const job of opts.jobs) {
    try {
      infos.set(job.input, await probeImage(job.input));
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }

  const backend = await initBackend(opts.backend);
  const bar = new ProgressBar(opts.quiet ? undefined : io.progress);
  const sr = await loadStableSR({
    checkpoint: opts.checkpoint,
    backend: backend.name,
    ...(opts.cfw !== undefined && { cfw: opts.cfw }),
    ...(opts.config !== undefined && { config: opts.config }),
    ...(opts.textEncoder !== undefined && { textEncoder: opts.textEncoder }),
    ...(opts.tokenizer !== undefined && { tokenizer: opts.tokenizer }),
  });
  const results: UpscaleImageResult[] = [];
  try {
    const limit = pLimit(opts.concurrency);
    const total = opts.jobs.length;
    await Promise.all(
      opts.jobs.map((job, i) =>
        limit(async () => {
          const label = opts.batch ? `[${i + 1}/${total}] ${basename(job.input)}` : '';
          const r = await runJob(job, infos.get(job.input)!, label);
          results[i] = r;
          if (opts.batch && !opts.quiet && !opts.json) bar.log(r.error ? `failed ${job.input}: ${r.error}` : `wrote ${r.output} (${size(r.inputSize)} → ${size(r.outputSize!)}, ${r.seconds.toFixed(1)} s)`, io.err);
        }),
      ),
    );
  } finally {
    bar.clear();
    sr.dispose();
  }

  const failed = results.filter((r) => r.error);
  const run: UpscaleRunResult = { command: 'upscale', ok: failed.length === 0, backend: backend.name, seconds: round1((performance.now() - t0) / 1000), peakRssBytes: peakRssBytes(), images: results };
  if (opts.json) io.out(JSON.stringify(run, null, 2));
  else if (!opts.quiet) io.out(summary(run, opts));
  if (opts.batch) for (const f of failed) io.err(`stablesr: ${f.input}: ${f.error}`);
  return failed.length === 0 ? 0 : 1;

  async function runJob(job: UpscaleJob, info: ImageInfo, label: string): Promise<UpscaleImageResult> {
    const start = performance.now();
    const base: UpscaleImageResult = { input: job.input, output: job.output, inputSize: { width: info.width, height: info.height }, seconds: 0 };
    try {
      io.signal?.throwIfAborted();
      const res = await sr.upscale(job.input, upscaleOptions(opts, (ev) => bar.update(ev, label), io.signal));
      mkdirSync(dirname(job.output), { recursive: true });
      await writeImage(job.output, res.image, { format: job.format, grayscale: info.grayscale, bitDepth: opts.bitDepth, quantize: opts.quantize });
      return { ...base, outputSize: { width: res.image.width, height: res.image.height }, seconds: round1((performance.now() - start) / 1000) };
    } catch (e) {
      // Ctrl-C stops the whole batch, not just this image.
      if (io.signal?.aborted) throw e;
      if (!opts.batch) throw e;
      return { ...base, seconds: round1((performance.now() - start) / 1000), error: (e as Error).message.split('\n')[0]! };
    }
  }
}

/** The pipeline options for one image. */
export function upscaleOptions(opts: UpscaleCliOptions, onProgress: StableSRUpscaleOptions['onProgress'], signal?: AbortSignal): StableSRUpscaleOptions {
  const o: StableSRUpscaleOptions = { scale: opts.scale, steps: opts.steps, sampler: opts.sampler, fidelity: opts.fidelity, colorFix: opts.colorFix, seed: opts.seed };
  if (opts.tileSize !== undefined) o.tileSize = opts.tileSize;
  if (opts.tileOverlap !== undefined) o.tileOverlap = opts.tileOverlap;
  if (opts.prompt !== undefined) o.prompt = opts.prompt;
  if (opts.negativePrompt !== undefined) o.negativePrompt = opts.negativePrompt;
  if (opts.guidance !== undefined) o.guidanceScale = opts.guidance;
  if (onProgress) o.onProgress = onProgress;
  if (signal) o.signal = signal;
  return o;
}

function size(s: { width: number; height: number }): string {
  return `${s.width}×${s.height}`;
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

function summary(run: UpscaleRunResult, opts: UpscaleCliOptions): string {
  const tail = `in ${run.seconds.toFixed(1)} s (backend ${run.backend}, peak memory ${formatBytes(run.peakRssBytes)})`;
  if (!opts.batch) {
    const r = run.images[0]!;
    return `wrote ${r.output}: ${size(r.inputSize)} → ${size(r.outputSize!)} ${tail}`;
  }
  const ok = run.images.length - run.images.filter((r) => r.error).length;
  const failed = run.images.length - ok;
  return `upscaled ${ok} of ${run.images.length} images into ${dirname(opts.jobs[0]!.output)} ${tail}${failed ? `, ${failed} failed` : ''}`;
}
