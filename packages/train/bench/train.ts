// `npm run bench -- train`: training iterations/s of the IR-SDE ConditionalUNet on the tfjs training backends, and
// the IR-SDE sampler's seconds per 256² → 1024² image on the default engine, side by side in one run.
//   official SISR setting: ConditionalUNet nf 64, depth 4, 128² patches, batch 4 (the authors' train config)
//   small: nf 32, depth 2, pixel-unshuffle 4 (the shipped default model's network), 128² patches, batch 4
// Each training measurement is `trainIRSDE` itself (data sampling, autodiff, Adam, EMA) on two synthetic 256²
// images, the first step (kernel set-up) left out of the mean. The sampler runs with random weights (speed only).
//   STABLESR_BENCH_STEPS=N   training steps per measurement (default 3)
//   STABLESR_BENCH_CPU=1     also the tfjs cpu backend (over 3 minutes per step even for the small network)
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { Xoshiro128, initBackend, recordWeightRequests, resolveEngine, weightsFromSource } from '@stablesr/core';
import { type ConditionalUNetConfig, compileConditionalUNet, disposeConditionalUNet, irsdeSchedule, irsdeSuperResolve, loadConditionalUNet } from '@stablesr/irsde';
import { type TrainingBackendName, initParameters, parametersSource, trainIRSDE, withTrainingBackend } from '../src/index.js';

await initBackend();
const steps = Number(process.env.STABLESR_BENCH_STEPS ?? 3);
const work = mkdtempSync(join(tmpdir(), 'stablesr-bench-train-'));
const data = join(work, 'data');
mkdirSync(data);
const rng = new Xoshiro128(1);
for (const name of ['a.png', 'b.png']) {
  const px = new Uint8Array(256 * 256 * 3);
  // Smooth gradients plus noise: enough structure for crops, no decoding cost worth mentioning.
  for (let i = 0; i < px.length; i++) px[i] = Math.min(255, ((i / 3) % 256) * 0.5 + (Math.floor(i / 768) % 256) * 0.3 + rng.nextInt(50));
  await sharp(Buffer.from(px), { raw: { width: 256, height: 256, channels: 3 } }).png().toFile(join(data, name));
}

const configs: { name: string; network: Partial<ConditionalUNetConfig>; backends: TrainingBackendName[] }[] = [
  { name: 'small (nf 32, depth 2, unshuffle 4)', network: { nf: 32, depth: 2, pixel_unshuffle: 4 }, backends: process.env.STABLESR_BENCH_CPU ? ['wasm', 'cpu'] : ['wasm'] },
  { name: 'official SISR (nf 64, depth 4)', network: { nf: 64, depth: 4, pixel_unshuffle: 1 }, backends: process.env.STABLESR_BENCH_CPU ? ['wasm', 'cpu'] : ['wasm'] },
];

console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`);
// Sampler: one 256² → 1024² image. The official setting has T = 100 steps of the full-resolution network; its
// per-step time (measured with T = 1) is multiplied out. The small network runs its whole T = 20.
const engine = await resolveEngine({});
console.log(`sampler: 256² → 1024², posterior, engine ${engine.engine} (${engine.provider}, ${engine.threads} threads)\n`);
console.log('| network | T | s/step | s/image |');
console.log('|---|---|---|---|');
for (const [c, T, measureT] of [[configs[0]!, 20, 20], [configs[1]!, 100, 1]] as const) {
  const network = { in_nc: 3, out_nc: 3, nf: 64, ...c.network } as ConditionalUNetConfig;
  const shapes = recordWeightRequests((v) => loadConditionalUNet(network, v), disposeConditionalUNet);
  const params = initParameters(shapes, new Xoshiro128(2));
  const unet = loadConditionalUNet(network, weightsFromSource(await parametersSource(params, 'random weights')));
  tf.dispose([...params.values()]);
  const net = compileConditionalUNet(unet, engine);
  const lq = tf.randomUniform([1, 256, 256, 3]) as tf.Tensor4D;
  try {
    const schedule = irsdeSchedule({ max_sigma: 10, T: measureT, schedule: 'cosine', eps: 0.005 });
    (await irsdeSuperResolve(net, schedule, tf.slice(lq, [0, 0, 0, 0], [1, 64, 64, 3]) as tf.Tensor4D, { scale: 4 })).dispose(); // warm-up
    const t0 = performance.now();
    (await irsdeSuperResolve(net, schedule, lq, { scale: 4 })).dispose();
    const perStep = (performance.now() - t0) / 1000 / measureT;
    console.log(`| ${c.name} | ${T} | ${perStep.toFixed(2)} | ${(perStep * T).toFixed(1)}${measureT !== T ? ` (${measureT} steps measured)` : ''} |`);
  } finally {
    lq.dispose();
    await net.network.dispose();
    disposeConditionalUNet(unet);
  }
}

console.log(`training: batch 4, 128² patches, ${steps} steps (first left out), L1 matching loss, Adam, EMA\n`);
console.log('| network | backend | s/step | it/s | patches/s |');
console.log('|---|---|---|---|---|');
for (const c of configs) {
  for (const backend of c.backends) {
    const out = join(work, `${c.name.replace(/\W+/g, '-')}-${backend}`);
    const times: number[] = [];
    let last = 0;
    await withTrainingBackend(
      () =>
        trainIRSDE({
          data,
          out,
          steps,
          network: c.network,
          sde: { T: 100 },
          batch: 4,
          patch: 128,
          valCount: 0,
          checkpointEvery: 1_000_000,
          onProgress: (e) => {
            if (e.stage !== 'train') return;
            const now = performance.now();
            if (e.done > 1) times.push((now - last) / 1000);
            last = now;
          },
        }),
      { backend },
    ).then(() => undefined, (e: unknown) => console.log(`| ${c.name} | ${backend} | failed: ${(e as Error).message}${/Aborted/.test((e as Error).message) ? ' (the wasm heap, 4 GiB, ran out: this setting needs tfjs-node or a smaller batch/patch)' : ''} | | |`));
    // The first step's time starts at the call; steps 2…n are timed between progress events.
    if (!times.length) continue;
    const s = times.reduce((a, b) => a + b, 0) / times.length;
    console.log(`| ${c.name} | ${backend} | ${s.toFixed(2)} | ${(1 / s).toFixed(3)} | ${(4 / s).toFixed(2)} |`);
  }
}

// The official setting runs last: when it exhausts the wasm heap the module aborts and nothing after it could run.
rmSync(work, { recursive: true, force: true });
