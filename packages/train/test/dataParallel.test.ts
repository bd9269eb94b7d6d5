// Data-parallel training steps: the batch split over this thread and worker threads gives the single-thread step's
// loss and gradients (up to float summation order), for even, uneven and empty parts, and leaks nothing.
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { Xoshiro128, recordWeightRequests } from '@stablesr/core';
import { disposeConditionalUNet, irsdeSchedule, loadConditionalUNet } from '@stablesr/irsde';
import { DataParallelGradients, type IRSDEStepSpec, initParameters, withTrainingBackend } from '@stablesr/train';

const spec: IRSDEStepSpec = {
  network: { in_nc: 3, out_nc: 3, nf: 4, depth: 1, upscale: 1, pixel_unshuffle: 2 },
  sde: { max_sigma: 10, T: 6, schedule: 'cosine', eps: 0.005 },
  parameterization: 'edm',
  lossType: 'l1',
  objective: 'x0',
};

function batch(rows: number, seed: number) {
  const rng = new Xoshiro128(seed);
  const patch = 8;
  const hq = Float32Array.from({ length: rows * patch * patch * 3 }, () => rng.nextOpen());
  const lq = Float32Array.from({ length: rows * 4 * 4 * 3 }, () => Math.round(rng.nextOpen() * 255) / 255);
  return { hq, lq, noise: Float32Array.from(rng.normals(hq.length)), t: Array.from({ length: rows }, (_, i) => 1 + ((i * 5 + seed) % 6)), patch, scale: 2 };
}

test.serial('a batch split over worker threads gives the single-thread loss and gradients', async (t) => {
  await withTrainingBackend(async () => {
    const shapes = recordWeightRequests((v) => loadConditionalUNet(spec.network, v), disposeConditionalUNet);
    const params = initParameters(shapes, new Xoshiro128(3));
    const schedule = irsdeSchedule(spec.sde);
    const single = new DataParallelGradients(spec, schedule, 0);
    const two = new DataParallelGradients(spec, schedule, 1);
    const three = new DataParallelGradients(spec, schedule, 2);
    try {
      t.deepEqual([single.threads, two.threads, three.threads], [1, 2, 3]);
      // 4 rows over 2 threads (2 + 2), 3 over 2 (2 + 1), 3 over 3 (1 + 1 + 1), 1 over 3 (one part has the row).
      for (const [dp, rows] of [[two, 4], [two, 3], [three, 3], [three, 1]] as const) {
        const b = batch(rows, rows);
        const ref = await single.step(params, b);
        const before = tf.memory().numTensors;
        const got = await dp.step(params, batch(rows, rows));
        t.true(Math.abs(got.loss - ref.loss) <= 1e-6 * Math.abs(ref.loss) + 1e-9, `${rows} rows over ${dp.threads}: loss ${got.loss} vs ${ref.loss}`);
        for (const [key, g] of ref.grads) {
          const a = g.dataSync();
          const c = got.grads.get(key)!.dataSync();
          let worst = 0;
          let scale = 0;
          for (let i = 0; i < a.length; i++) {
            worst = Math.max(worst, Math.abs(a[i]! - c[i]!));
            scale = Math.max(scale, Math.abs(a[i]!));
          }
          if (worst > 1e-5 * scale + 1e-9) t.fail(`${rows} rows over ${dp.threads}: ${key} differs by ${worst} (scale ${scale})`);
        }
        t.is(tf.memory().numTensors, before + got.grads.size, 'only the returned gradients are new');
        tf.dispose([...ref.grads.values(), ...got.grads.values()]);
      }
    } finally {
      await Promise.all([single.close(), two.close(), three.close()]);
      tf.dispose([...params.values()]);
    }
  });
});

test('a negative or fractional worker count is refused', (t) => {
  const schedule = irsdeSchedule(spec.sde);
  t.throws(() => new DataParallelGradients(spec, schedule, -1), { message: /--workers must be a whole number ≥ 0, got -1/ });
  t.throws(() => new DataParallelGradients(spec, schedule, 1.5), { message: /got 1\.5/ });
});
