import { type EngineInfo, writeImage, type ImageInfo, type ProgressCallback } from '@stablesr/core';
import { type UpscaleTimings } from '@stablesr/stablesr';
import { FLAG_LABEL, OptionError, StableSR, type UpscaleOptions } from '@stablesr/stablesr';
import { mkdirSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import pLimit from 'p-limit';
import type { CliIo } from '../cliIo.js';
import { startUpscale } from './startUpscale.js';
import { describeEngine } from '../options/engineOptions.js';
import { formatBytes, peakRssBytes } from '../resourceUsage.js';
import type { UpscaleCliOptions } from '../upscaleOptions.js';
import type { UpscaleJob } from '../upscaleJobs.js';
import { UsageError } from '../usageError.js';
import { upscaleIrsdeCommand } from './upscaleIrsde.js';

/** One line of `--json` output per image. */
export interface UpscaleImageResult {
  input: string;
  output: string;
  inputSize: { width: number; height: number };
  outputSize?: { width: number; height: number };
  /** U-Net evaluations (steps × latent tiles × pixel patches). */
  evaluations?: number;
  /** The seed the noise was drawn with. */
  seed?: number;
  seconds: number;
  /** Seconds per stage (`load` = engine sessions built for this image). */
  timings?: UpscaleTimings;
  /** Sampling steps, and latent tiles per step (summed over pixel patches). */
  steps?: number;
  tiles?: number;
  error?: string;
}

export interface UpscaleRunResult {
  command: 'upscale';
  ok: boolean;
  backend: string;
  /** What ran the networks: engine, provider (ONNX Runtime device or tfjs backend) and threads. */
  engine: Pick<EngineInfo, 'engine' | 'provider' | 'threads'>;
  /** Seconds spent loading the model (files, networks, the empty prompt). */
  loadSeconds: number;
  /** Where the networks' weights lived (see `--weights`). */
  weights: 'host' | 'backend';
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
  if (opts.irsde) return upscaleIrsdeCommand(opts, io);
  const t0 = performance.now();
  const { infos, backend, engine, bar } = await startUpscale(opts, io);
  const sr = await StableSR.load({
    checkpoint: opts.checkpoint,
    backend: backend.name,
    ...opts.engine,
    ...(opts.cfw !== undefined && { cfw: opts.cfw }),
    ...(opts.config !== undefined && { config: opts.config }),
    ...(opts.cfwConfig !== undefined && { cfwConfig: opts.cfwConfig }),
    ...(opts.preset !== undefined && { preset: opts.preset }),
    ...(opts.textEncoder !== undefined && { textEncoder: opts.textEncoder }),
    ...(opts.tokenizer !== undefined && { tokenizer: opts.tokenizer }),
    ...(opts.vaeTileSize !== undefined && { vaeTileSize: opts.vaeTileSize }),
    ...(opts.weights !== undefined && { weights: opts.weights }),
  });
  const loadSeconds = round1((performance.now() - t0) / 1000);
  const results: UpscaleImageResult[] = [];
  const weights = sr.weights;
  try {
    const limit = pLimit(opts.concurrency);
    const total = opts.jobs.length;
    await Promise.all(
      opts.jobs.map((job, i) =>
        limit(async () => {
          const label = opts.batch ? `[${i + 1}/${total}] ${basename(job.input)}` : '';
          const r = await runJob(job, infos.get(job.input)!, label);
          results[i] = r;
          if (opts.batch && !opts.quiet && !opts.json) bar.log(r.error ? `failed ${failure(r)}` : `wrote ${r.output} (${size(r.inputSize)} → ${size(r.outputSize!)}, ${r.seconds.toFixed(1)} s)`, io.err);
        }),
      ),
    );
  } finally {
    bar.clear();
    sr.dispose();
  }

  const failed = results.filter((r) => r.error);
  const ran = { engine: engine.engine, provider: engine.provider, threads: engine.threads };
  const run: UpscaleRunResult = { command: 'upscale', ok: failed.length === 0, backend: backend.name, engine: ran, loadSeconds, weights, seconds: round1((performance.now() - t0) / 1000), peakRssBytes: peakRssBytes(), images: results };
  if (opts.json) io.out(JSON.stringify(run, null, 2));
  else if (!opts.quiet) io.out(summary(run, opts));
  if (opts.batch) for (const f of failed) io.err(`stablesr: ${failure(f)}`);
  return failed.length === 0 ? 0 : 1;

  async function runJob(job: UpscaleJob, info: ImageInfo, label: string): Promise<UpscaleImageResult> {
    const start = performance.now();
    const base: UpscaleImageResult = { input: job.input, output: job.output, inputSize: { width: info.width, height: info.height }, seconds: 0 };
    try {
      io.signal?.throwIfAborted();
      let res;
      try {
        res = await sr.upscale(job.input, upscaleOptions(opts, (ev) => bar.update(ev, label), io.signal));
      } catch (e) {
        throw asUsageError(e);
      }
      mkdirSync(dirname(job.output), { recursive: true });
      // The samples already have the requested depth (quantised by the pipeline): written as they are.
      await writeImage(job.output, res.image, { format: job.format, grayscale: info.grayscale });
      return {
        ...base,
        outputSize: { width: res.image.width, height: res.image.height },
        evaluations: res.evaluations,
        ...(res.seed !== undefined && { seed: res.seed }),
        seconds: round1((performance.now() - start) / 1000),
        timings: Object.fromEntries(Object.entries(res.timings).map(([k, v]) => [k, Math.round(v * 100) / 100])) as unknown as UpscaleTimings,
        steps: res.steps,
        tiles: res.tiles,
      };
    } catch (e) {
      // Ctrl-C stops the whole batch, not just this image; so does a bad option, which would fail every image.
      if (io.signal?.aborted || e instanceof UsageError) throw e;
      if (!opts.batch) throw e;
      return { ...base, seconds: round1((performance.now() - start) / 1000), error: (e as Error).message.split('\n')[0]! };
    }
  }
}

/** The pipeline options for one image: what was given on the command line, the library's defaults for the rest. */
export function upscaleOptions(opts: UpscaleCliOptions, onProgress?: ProgressCallback, signal?: AbortSignal): UpscaleOptions {
  return { ...opts.upscale, ...(onProgress && { onProgress }), ...(signal && { signal }) };
}

/**
 * `StableSR.upscale` checks the options that depend on the loaded model (e.g. tile sizes must be multiples of
 * its U-Net's downsampling) with the same option table; that is bad usage, worded with the flags' names.
 */
function asUsageError(e: unknown): unknown {
  return e instanceof OptionError ? new UsageError(e.describe(FLAG_LABEL)) : e;
}

/** `input: error`, without naming the input twice when the error already does. */
function failure(r: UpscaleImageResult): string {
  return r.error!.includes(r.input) ? r.error! : `${r.input}: ${r.error}`;
}

function size(s: { width: number; height: number }): string {
  return `${s.width}×${s.height}`;
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

function summary(run: UpscaleRunResult, opts: UpscaleCliOptions): string {
  const tail = `in ${run.seconds.toFixed(1)} s (${describeEngine(run.engine)}, peak memory ${formatBytes(run.peakRssBytes)})`;
  if (!opts.batch) {
    const r = run.images[0]!;
    return `wrote ${r.output}: ${size(r.inputSize)} → ${size(r.outputSize!)} ${tail}`;
  }
  const ok = run.images.length - run.images.filter((r) => r.error).length;
  const failed = run.images.length - ok;
  return `upscaled ${ok} of ${run.images.length} images into ${dirname(opts.jobs[0]!.output)} ${tail}${failed ? `, ${failed} failed` : ''}`;
}
