// The main job as a user runs it, at the released model's real sizes: `stablesr upscale` on checkpoint files
// with the exact keys and shapes of stablesr_000117.ckpt and vqgan_cfw_00011.ckpt (synthetic values, written
// as safetensors to a temporary folder: about 6 GB of disk), on the default backend. Prints the CLI's own
// JSON result (seconds, peak RSS); with synthetic weights the output is not a useful picture.
//   STABLESR_BENCH_E2E=1 npm run bench -- endToEnd      (1 DDPM step on a 64² input → 256²)
//   STABLESR_BENCH_E2E=1 STABLESR_BENCH_E2E_STEPS=20 STABLESR_BENCH_E2E_SIDE=128 STABLESR_BENCH_E2E_ARGS="--sampler ddim" …
//                                                       the issue's target run: 128² → 512², DDIM 20 steps (≈ 5 min)
//   STABLESR_BENCH_E2E_STEPS=2 STABLESR_BENCH_E2E_SIDE=128 …   other settings
//   STABLESR_BENCH_E2E_DIR=/data/e2e …   keep the checkpoints there (written once, reused by later runs)
//   STABLESR_BENCH_E2E_ARGS="--vae-tile-size 256 --verbose" …   more `stablesr upscale` options
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findRepoRoot, initBackend, syntheticSource, writeImage, writeSafetensors } from '@stablesr/core';
import { type Part, shapesOf } from './releasedModel.js';

if (!process.env.STABLESR_BENCH_E2E) {
  console.log('skipped: set STABLESR_BENCH_E2E=1 (writes ≈ 6 GB of synthetic checkpoints to the temp folder, runs ≈ 7 min)');
  process.exit(0);
}

const steps = Number(process.env.STABLESR_BENCH_E2E_STEPS ?? 1);
const side = Number(process.env.STABLESR_BENCH_E2E_SIDE ?? 64);
const keep = process.env.STABLESR_BENCH_E2E_DIR;
const dir = keep ?? mkdtempSync(join(tmpdir(), 'stablesr-e2e-'));
if (keep) mkdirSync(keep, { recursive: true });
try {
  // Key lists are recorded on the cpu backend: the recording loaders materialise zeros of the full size.
  await initBackend('cpu');
  const shapes = async (parts: Part[]) => {
    const all: [string, number[]][] = [];
    for (const p of parts) all.push(...(await shapesOf(p)));
    return all;
  };
  const checkpoint = join(dir, 'stablesr-synthetic.safetensors');
  const cfw = join(dir, 'vqgan-cfw-synthetic.safetensors');
  let t0 = performance.now();
  if (!existsSync(checkpoint) || !existsSync(cfw)) {
    const a = await writeSafetensors(syntheticSource(await shapes(['unet', 'structcond', 'vae', 'text']), { seed: 1, origin: 'synthetic StableSR' }), checkpoint);
    const b = await writeSafetensors(syntheticSource(await shapes(['cfw']), { seed: 2, origin: 'synthetic CFW' }), cfw);
    console.log(`wrote ${a.tensors} + ${b.tensors} tensors, ${((a.bytes + b.bytes) / 2 ** 30).toFixed(2)} GiB, in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }

  const input = join(dir, 'in.png');
  const px = new Uint8Array(side * side * 3);
  for (let i = 0; i < px.length; i++) px[i] = (i * 37 + (i >> 7)) % 256;
  await writeImage(input, { data: px, width: side, height: side, channels: 3 });

  const root = findRepoRoot() ?? process.cwd();
  const args = ['upscale', input, join(dir, 'out.png'), '--checkpoint', checkpoint, '--cfw', cfw, '--steps', String(steps), '--json', ...(process.env.STABLESR_BENCH_E2E_ARGS ?? '').split(' ').filter(Boolean)];
  console.log(`stablesr ${args.join(' ')}`);
  t0 = performance.now();
  const r = spawnSync(process.execPath, ['--import=tsx', '--conditions=stablesr-source', join(root, 'packages/cli/bin/stablesr-dev.ts'), ...args], { encoding: 'utf8', maxBuffer: 2 ** 24 });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) {
    console.log(`FAILED (exit ${r.status ?? r.signal}) after ${wall.toFixed(0)} s: ${(r.stderr || r.stdout).trim().split('\n').slice(-40).join(' | ')}`);
  } else {
    const res = JSON.parse(r.stdout) as {
      engine: { engine: string; provider: string; threads: number };
      loadSeconds: number;
      seconds: number;
      peakRssBytes: number;
      images: { outputSize: { width: number; height: number }; evaluations?: number; steps?: number; tiles?: number; timings?: Record<string, number> }[];
    };
    const img = res.images[0]!;
    const e = res.engine;
    const sampler = args.includes('ddim') ? 'DDIM' : 'DDPM';
    console.log(
      `${side}² → ${img.outputSize.width}×${img.outputSize.height}, ${steps} ${sampler} step(s) × ${img.tiles ?? '?'} tile(s), engine ${e.engine} (${e.provider}, ${e.threads} threads): ` +
        `${res.seconds.toFixed(1)} s in all (model load ${res.loadSeconds.toFixed(1)} s), peak RSS ${(res.peakRssBytes / 2 ** 30).toFixed(2)} GiB`,
    );
    if (img.timings) console.log(`per stage (s): ${Object.entries(img.timings).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}`);
  }
} finally {
  if (!keep) rmSync(dir, { recursive: true, force: true });
}
