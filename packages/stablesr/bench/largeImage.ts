// Memory-bounded SR of large images through the public API (`StableSR.load` + `upscale`) with the tiny `sr-a`
// model of the golden fixtures (config: fixtures/sampler.ddpm-sr/manifest.json `config.model`): pixel patches
// (`_tile` script), latent tiles with Gaussian blending, tiled VAE / CFW. Each size runs in its own process so
// that its peak RSS is its own; the peak of tfjs bytes is exact (tracked on every allocation, not sampled).
// Peak tfjs bytes must stay flat as the image grows (bounded by patch / tile sizes); RSS may grow only by the
// output buffer (W·H·3 bytes) and the full-height band of open patch columns (≤ H·(patch + stride)·12 bytes).
//
//   npm run bench -- largeImage                      quick run (< 2 min): patches of 256 px, 1 DDPM step
//   STABLESR_BENCH_FULL=1 npm run bench -- largeImage  also 2048² → 8192² with the official 1280 / 1000 patches
//   STABLESR_BENCH_SIDES=64,128 STABLESR_BENCH_STEPS=2 …  other input sides / steps
//
// Measured (2-core CI machine, wasm, 1 step, quick settings): see the table in the lead's report / this run's output.
import * as tf from '@tensorflow/tfjs-core';
import { type RawImage, fixturesRoot, initBackend } from '@stablesr/core';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StableSR } from '../src/stableSR.js';

interface Run {
  side: number;
  steps: number;
  /** Model input size; sets the latent tile (inputSize / 8) and the minimum patch size. */
  inputSize: number;
  patchSize: number;
  patchStride: number;
  vaeTileSize: number;
}

interface Result {
  ok: boolean;
  error?: string;
  out?: string;
  seconds?: number;
  evaluations?: number;
  patches?: number;
  peakTfBytes?: number;
  wasmHeapBytes?: number;
  maxRssBytes?: number;
  backend?: string;
}

const MiB = 2 ** 20;

/** Exact high-water mark of tfjs bytes: the engine's counter is made an accessor that records its maximum. */
function trackPeakTfBytes(): () => number {
  const state = (tf.engine() as unknown as { state: { numBytes: number } }).state;
  let value = state.numBytes;
  let peak = value;
  Object.defineProperty(state, 'numBytes', {
    configurable: true,
    get: () => value,
    set: (v: number) => {
      value = v;
      if (v > peak) peak = v;
    },
  });
  return () => peak;
}

function picture(side: number): RawImage {
  const data = new Uint8Array(side * side * 3);
  for (let y = 0; y < side; y++)
    for (let x = 0; x < side; x++)
      for (let c = 0; c < 3; c++) data[(y * side + x) * 3 + c] = (Math.sin(x * 0.05 + c) * Math.cos(y * 0.031 - c) * 0.5 + 0.5) * 255;
  return { data, width: side, height: side, channels: 3 };
}

async function child(run: Run): Promise<void> {
  const root = fixturesRoot()!;
  let result: Result;
  const backend = await initBackend();
  const models = join(root, '_models');
  const modelConfig = (JSON.parse(readFileSync(join(root, 'sampler.ddpm-sr', 'manifest.json'), 'utf8')) as { config: { model: Record<string, unknown> } }).config.model;
  const sr = await StableSR.load({
    checkpoint: join(models, 'sr-a/stablesr.safetensors'),
    cfw: join(models, 'sr-a/vqgan_cfw.safetensors'),
    textEncoder: join(models, 'text-a/openclip_text.safetensors'),
    config: modelConfig,
    vaeTileSize: run.vaeTileSize,
  });
  const peakTf = trackPeakTfBytes();
  try {
    let patches = 0;
    const res = await sr.upscale(picture(run.side), {
      steps: run.steps,
      inputSize: run.inputSize,
      patchSize: run.patchSize,
      patchStride: run.patchStride,
      onProgress: (e) => {
        if (e.stage === 'patch') patches = e.total;
      },
    });
    result = { ok: true, out: `${res.width}²`, seconds: res.seconds, evaluations: res.evaluations, patches: Math.max(1, patches) };
  } catch (e) {
    result = { ok: false, error: (e as Error).message.split('\n')[0] };
  } finally {
    sr.dispose();
  }
  const wasm = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm;
  result.peakTfBytes = peakTf();
  if (wasm?.HEAPU8) result.wasmHeapBytes = wasm.HEAPU8.length;
  result.maxRssBytes = process.resourceUsage().maxRSS * 1024;
  result.backend = backend.name;
  console.log(JSON.stringify(result));
}

function main(): void {
  if (!fixturesRoot()) {
    console.log('largeImage: ../shared/fixtures not found (set STABLESR_FIXTURES); nothing to run');
    return;
  }
  const steps = Number(process.env.STABLESR_BENCH_STEPS ?? 1);
  const sides = (process.env.STABLESR_BENCH_SIDES ?? '64,128,192').split(',').map(Number);
  // Quick: the tiny model's analogue of the official settings (input 64 → latent tiles 8 / overlap 4; pixel patches
  // 256 / stride 192, VAE tiles 256), so that growing the image only adds patches.
  const runs: Run[] = sides.map((side) => ({ side, steps, inputSize: 64, patchSize: 256, patchStride: 192, vaeTileSize: 256 }));
  // Full: 2048² → 8192² with the official patches 1280 / 1000, input 512 (latent tiles 64 / 32), VAE tiles 512.
  if (process.env.STABLESR_BENCH_FULL) runs.push({ side: 2048, steps, inputSize: 512, patchSize: 1280, patchStride: 1000, vaeTileSize: 512 });
  console.log(`tiny StableSR (sr-a), ${steps} DDPM step(s), scale 4; one process per row`);
  console.log('input   output   patches  evals  seconds  peak tfjs  wasm heap   peak RSS  settings');
  for (const run of runs) {
    const r = spawnSync(process.execPath, [...process.execArgv, process.argv[1]!, JSON.stringify(run)], { encoding: 'utf8', timeout: 4 * 3600 * 1000, maxBuffer: 2 ** 26 });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    let res: Result;
    try {
      res = JSON.parse(line) as Result;
    } catch {
      res = { ok: false, error: `process exited ${r.status ?? r.signal}: ${(r.stderr || line).trim().split('\n').slice(-2).join(' ')}` };
    }
    const mib = (b?: number) => (b === undefined ? '?' : `${(b / MiB).toFixed(0)} MiB`);
    const settings = `input ${run.inputSize}, patch ${run.patchSize}/${run.patchStride}, VAE tile ${run.vaeTileSize}${res.backend ? `, ${res.backend}` : ''}`;
    if (!res.ok) {
      console.log(`${`${run.side}²`.padEnd(7)} FAILED (${res.error}); peak RSS ${mib(res.maxRssBytes)}; ${settings}`);
      continue;
    }
    console.log(
      [
        `${run.side}²`.padEnd(7),
        res.out!.padEnd(8),
        String(res.patches).padStart(7),
        String(res.evaluations).padStart(6),
        res.seconds!.toFixed(1).padStart(8),
        mib(res.peakTfBytes).padStart(10),
        mib(res.wasmHeapBytes).padStart(10),
        mib(res.maxRssBytes).padStart(10),
        ` ${settings}`,
      ].join(' '),
    );
  }
}

const arg = process.argv[2];
if (arg?.startsWith('{')) await child(JSON.parse(arg) as Run);
else main();
