// One `stablesr serve --redis` and two `stablesr worker` processes on a real redis-server: 40 jobs from 8 concurrent
// HTTP clients all complete with the right sizes (throughput and p95 latency reported), and a multi-patch image is
// split over both workers and equals the single-process output byte for byte.
import test from 'ava';
import { encodeImage } from '@stablesr/core';
import { StableSR } from '@stablesr/stablesr';
import { rmSync } from 'node:fs';
import sharp from 'sharp';
import { type CliProcess, ENGINE, type RedisServer, png, quantile, startCli, startRedis, stopCli, submit, tinyModel, waitForJob } from './harness.js';

let redis: RedisServer;
let model: Awaited<ReturnType<typeof tinyModel>>;
let serve: CliProcess;
const workers: CliProcess[] = [];
let base: string;

test.before(async () => {
  redis = await startRedis();
  model = await tinyModel();
  const ready = /worker ready/;
  // Workers first: they register the model that serve validates requests against.
  workers.push(...(await Promise.all([0, 1].map(() => startCli(['worker', '--redis', redis.url, ...model.flags], ready)))));
  serve = await startCli(['serve', '--redis', redis.url, '--port', '0'], /listening on (http:\/\/127\.0\.0\.1:\d+)/);
  base = serve.ready[1]!;
});
test.after.always(async () => {
  await Promise.all([...workers, serve].map((p) => stopCli(p)));
  await redis?.stop();
  if (model) rmSync(model.dir, { recursive: true, force: true });
});

test.serial('40 jobs from 8 concurrent clients all complete with the right sizes (throughput, p95 latency)', async (t) => {
  // Square inputs: the canvas pre-processing refuses some non-square images this small (its reflect pad would exceed them).
  const sizes = [[8, 8], [12, 12], [16, 16], [4, 4]] as const;
  const latencies: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 8 }, async (_, client) => {
      for (let k = 0; k < 5; k++) {
        const [w, h] = sizes[(client + k) % sizes.length]!;
        const start = performance.now();
        const r = await submit(base, await png(w, h, client * 5 + k), { steps: 2, 'input-size': 32, seed: client });
        t.is(r.status, 202, await r.clone().text());
        const { id } = (await r.json()) as { id: string };
        const s = await waitForJob(base, id, 120_000);
        t.is(s.status, 'done', JSON.stringify(s));
        const res = await fetch(`${base}/v1/jobs/${id}/result`);
        const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
        t.deepEqual([meta.width, meta.height], [w * 4, h * 4]);
        latencies.push((performance.now() - start) / 1000);
      }
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  t.is(latencies.length, 40);
  t.log(`load: 40 jobs (8 clients × 5, 4–16 px square inputs ×4, 2 steps, tiny model) in ${wall.toFixed(1)} s = ${(40 / wall).toFixed(1)} jobs/s; latency p50 ${quantile(latencies, 0.5).toFixed(2)} s, p95 ${quantile(latencies, 0.95).toFixed(2)} s, max ${Math.max(...latencies).toFixed(2)} s`);
  t.true(wall < 120, `bounded: ${wall} s`);
  const ran = workers.map((w) => (w.stderr().match(/: upscale started/g) ?? []).length);
  t.log(`jobs per worker: ${ran.join(', ')}`);
  t.true(ran.every((n) => n > 0), 'both workers took jobs');
  const metrics = await (await fetch(`${base}/metrics`)).text();
  t.regex(metrics, /stablesr_job_duration_seconds_count\{state="done"\} [1-9]/);
});

test.serial('a multi-patch image is split over both workers and equals the single-process output byte for byte', async (t) => {
  const img = await png(12, 12, 77);
  const q = { steps: 6, 'input-size': 32, 'patch-size': 32, 'patch-stride': 16, seed: 11 };
  const r = await submit(base, img, q);
  t.is(r.status, 202);
  const { id } = (await r.json()) as { id: string };
  const s = await waitForJob(base, id, 120_000);
  t.is(s.status, 'done', JSON.stringify(s));
  const got = Buffer.from(await (await fetch(`${base}/v1/jobs/${id}/result`)).arrayBuffer());
  const status = (await (await fetch(`${base}/v1/jobs/${id}`)).json()) as { patches: number };
  t.is(status.patches, 9);
  const perWorker = workers.map((w) => (w.stderr().match(new RegExp(`job ${id.replace(/[-_]/g, '\\$&')}: patch \\d+ in`, 'g')) ?? []).length);
  t.log(`patches per worker: ${perWorker.join(', ')}`);
  t.is(perWorker.reduce((a, b) => a + b, 0), 9);
  t.true(perWorker.every((n) => n > 0), 'both workers computed patches');
  // The same image and options in this process, through StableSR.upscale.
  const sr = await StableSR.load({ checkpoint: model.checkpoint, cfw: model.cfw, config: model.configFile, ...ENGINE });
  try {
    const one = await sr.upscale(img, { steps: 6, inputSize: 32, patchSize: 32, patchStride: 16, seed: 11 });
    t.true(got.equals(await encodeImage(one.image, { format: 'png' })), 'same bytes as one process');
  } finally {
    sr.dispose();
  }
});
