import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { AbortError, SeededNoise } from '@stablesr/core';
import { type SamplingParams, buildSchedules, sampleFromLatent, superResolve } from '../src/srPipeline.js';
import { fakeModels } from './fakeModels.js';

const schedule = { linearStart: 0.00085, linearEnd: 0.012, timesteps: 1000 };

function params(over: Partial<SamplingParams> = {}): SamplingParams {
  return { sampler: 'ddpm', steps: 3, eta: 1, parameterization: 'eps', tileSize: 64, tileOverlap: 32, ...over };
}

async function maxDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const d = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))));
  const v = (await d.data())[0]!;
  d.dispose();
  return v;
}

for (const sampler of ['ddpm', 'ddim'] as const) {
  for (const parameterization of ['eps', 'v'] as const) {
    test.serial(`tiled ${sampler} (${parameterization}) equals whole-latent sampling for a spatially pointwise model`, async (t) => {
      const models = fakeModels();
      const lat = tf.randomNormal([1, 10, 13, 4], 0, 1, 'float32', 5) as tf.Tensor4D;
      const context = tf.randomNormal([1, 77, 8], 0, 1, 'float32', 6) as tf.Tensor3D;
      const uncondContext = tf.randomNormal([1, 77, 8], 0, 1, 'float32', 7) as tf.Tensor3D;
      const cond = { context, uncondContext, guidanceScale: 3 };
      const before = tf.memory().numTensors;
      const whole = await sampleFromLatent(models, lat, cond, params({ sampler, parameterization }), buildSchedules(schedule, sampler, 3), { noise: new SeededNoise(1) });
      let tiles = 0;
      const tiled = await sampleFromLatent(models, lat, cond, params({ sampler, parameterization, tileSize: 4, tileOverlap: 1 }), buildSchedules(schedule, sampler, 3), {
        noise: new SeededNoise(1),
        onProgress: (e) => {
          if (e.stage === 'tile') tiles++;
        },
      });
      t.is(tiles, 3 * 3 * 4); // 3 steps × (y origins 0, 3, 6 × x origins 0, 3, 6, 9)
      const d = await maxDiff(whole, tiled);
      t.true(d < 1e-4, `max diff ${d}`);
      tf.dispose([whole, tiled]);
      t.is(tf.memory().numTensors, before, 'tensors leaked');
      tf.dispose([lat, context, uncondContext]);
    });
  }
}

test.serial('superResolve: output size, [0, 1] range, no leak, progress per step and tile', async (t) => {
  const models = fakeModels({ cfw: true });
  const lr = tf.randomUniform([1, 20, 28, 3], -1, 1, 'float32', 3) as tf.Tensor4D;
  const context = tf.zeros([1, 77, 8]) as tf.Tensor3D;
  const before = tf.memory().numTensors;
  const stages = new Set<string>();
  const { image, geometry } = await superResolve(models, lr, { context }, params({ tileSize: 8, tileOverlap: 4 }), {
    schedule, noise: new SeededNoise(3), fidelity: 0.5, colorFix: 'wavelet', upscale: 4, inputSize: 64,
    patchSize: 1280, patchStride: 1000, onProgress: (e) => stages.add(e.stage),
  });
  t.deepEqual(image.shape, [1, 80, 112, 3]);
  t.deepEqual([geometry!.oriH, geometry!.oriW, geometry!.padH, geometry!.padW], [80, 112, 16, 16]);
  const [lo, hi] = tf.tidy(() => [tf.min(image).dataSync()[0]!, tf.max(image).dataSync()[0]!]);
  t.true(lo >= 0 && hi <= 1);
  t.deepEqual([...stages].sort(), ['decode', 'sample', 'tile']);
  image.dispose();
  t.is(tf.memory().numTensors, before);
  tf.dispose([lr, context]);
});

test.serial('superResolve splits canvases above the patch size into pixel patches', async (t) => {
  const models = fakeModels({ cfw: true });
  const lr = tf.randomUniform([1, 16, 40, 3], -1, 1, 'float32', 4) as tf.Tensor4D;
  const context = tf.zeros([1, 77, 8]) as tf.Tensor3D;
  const before = tf.memory().numTensors;
  let patches = 0;
  const { image } = await superResolve(models, lr, { context }, params({ sampler: 'ddim', steps: 2 }), {
    schedule, noise: new SeededNoise(3), fidelity: 0, colorFix: 'adain', upscale: 4, inputSize: 64,
    patchSize: 96, patchStride: 64, onProgress: (e) => { if (e.stage === 'patch') patches++; },
  });
  t.is(patches, 2); // canvas 64 × 160 (no padding): x starts 0, 64, then 128 → 64 (moved back, deduplicated)
  t.deepEqual(image.shape, [1, 64, 160, 3]);
  image.dispose();
  t.is(tf.memory().numTensors, before);
  tf.dispose([lr, context]);
});

test.serial('abort between tiles stops the run and disposes everything in flight', async (t) => {
  const controller = new AbortController();
  let calls = 0;
  const models = fakeModels({ cfw: true, onUnet: () => { if (++calls === 5) controller.abort(new AbortError('cancelled by test')); } });
  const lr = tf.randomUniform([1, 16, 16, 3], -1, 1, 'float32', 4) as tf.Tensor4D;
  const context = tf.zeros([1, 77, 8]) as tf.Tensor3D;
  const before = tf.memory().numTensors;
  await t.throwsAsync(
    superResolve(models, lr, { context }, params({ tileSize: 4, tileOverlap: 2 }), {
      schedule, noise: new SeededNoise(3), fidelity: 0.5, colorFix: 'none', upscale: 4, inputSize: 64,
      patchSize: 1280, patchStride: 1000, signal: controller.signal,
    }),
    { instanceOf: AbortError },
  );
  t.is(calls, 5);
  t.is(tf.memory().numTensors, before);
  tf.dispose([lr, context]);
});

test('bad sampling options are clear errors', async (t) => {
  const models = fakeModels();
  const lat = tf.zeros([1, 8, 8, 4]) as tf.Tensor4D;
  const context = tf.zeros([1, 77, 8]) as tf.Tensor3D;
  await t.throwsAsync(sampleFromLatent(models, lat, { context }, params({ tileSize: 4, tileOverlap: 4 }), buildSchedules(schedule, 'ddpm', 2), { noise: new SeededNoise(1) }), {
    message: /tileOverlap \(4\) must be smaller than tileSize \(4\)/,
  });
  t.throws(() => buildSchedules(schedule, 'ddpm', 0), { message: /steps must be an integer in \[1, 1000\]/ });
  t.throws(() => buildSchedules(schedule, 'plms' as never, 10), { message: /sampler must be "ddpm" or "ddim"/ });
  tf.dispose([lat, context]);
});
