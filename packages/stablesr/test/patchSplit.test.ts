// The multi-patch pipeline split into public steps (plan → upscalePatch per patch → blendPatches) gives the same
// bytes as one upscale() call: the contract that lets a service compute patches on different workers.
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { rmSync } from 'node:fs';
import { StableSR } from '../src/stableSR.js';
import { patchSeed } from '../src/patchNoise.js';
import { type TinyCheckpoint, writeTinyCheckpoint } from './tinyCheckpoint.js';

let tiny: TinyCheckpoint;
let sr: StableSR;

test.before(async () => {
  tiny = await writeTinyCheckpoint({ vaeLevels: 2, imageSize: 32 });
  sr = await StableSR.load({ checkpoint: tiny.checkpoint, cfw: tiny.cfw, config: tiny.configFile, engine: 'tfjs' });
});
test.after.always(() => {
  sr?.dispose();
  if (tiny) rmSync(tiny.dir, { recursive: true, force: true });
});

const image = (w: number, h: number, c: 3 | 4) => ({ data: Uint8Array.from({ length: w * h * c }, (_, i) => (i * 53 + (i % 7) * 11) % 256), width: w, height: h, channels: c });

test('patchSeed keeps the run seed for patch 0 and gives the others distinct seeds', (t) => {
  t.is(patchSeed(42, 0), 42);
  const seeds = new Set(Array.from({ length: 64 }, (_, i) => patchSeed(42, i)));
  t.is(seeds.size, 64);
  t.not(patchSeed(42, 1), patchSeed(43, 1));
  t.throws(() => patchSeed(-1, 1), { message: /seed must be an integer/ });
});

const cases = [
  { name: 'cropped canvas (ddpm, uniform blend)', img: image(12, 12, 3), opts: { steps: 2, inputSize: 32, patchSize: 32, patchStride: 16, seed: 5 } },
  { name: 'with alpha (ddim, gaussian blend)', img: image(12, 10, 4), opts: { steps: 2, sampler: 'ddim' as const, inputSize: 32, patchSize: 32, patchStride: 24, seed: 9 } },
  { name: 'upscaled beyond scale (whole-canvas downscale)', img: image(40, 8, 3), opts: { steps: 1, inputSize: 32, patchSize: 32, patchStride: 32, scale: 2, seed: 3 } },
];

for (const c of cases) {
  test.serial(`upscalePatch × n + blendPatches equals upscale byte for byte: ${c.name}`, async (t) => {
    const plan = sr.plan(c.img.width, c.img.height, c.opts);
    t.true(plan.patches > 1, `the case has ${plan.patches} patches`);
    const before = tf.memory().numTensors;
    const whole = await sr.upscale(c.img, c.opts);
    t.deepEqual([whole.width, whole.height], [plan.width, plan.height]);
    // Patches in reverse order: each is computed on its own, as on separate workers.
    const patches = [];
    for (let i = plan.patches - 1; i >= 0; i--) patches[i] = await sr.upscalePatch(c.img, i, c.opts);
    const blended = await sr.blendPatches(c.img, patches, c.opts);
    t.deepEqual([blended.width, blended.height, blended.image.channels], [whole.width, whole.height, whole.image.channels]);
    t.true(Buffer.from(blended.image.data.buffer).equals(Buffer.from(whole.image.data.buffer)), 'same bytes');
    t.is(tf.memory().numTensors, before, 'no tensor leaks');
  });
}

test.serial('bad patch requests name what is wrong', async (t) => {
  const img = image(12, 12, 3);
  const opts = { steps: 1, inputSize: 32, patchSize: 32, patchStride: 16 };
  const n = sr.plan(12, 12, opts).patches;
  await t.throwsAsync(sr.upscalePatch(img, n, opts), { message: new RegExp(`patch index must be 0…${n - 1}, got ${n}`) });
  await t.throwsAsync(sr.upscalePatch(image(4, 4, 3), 0, { steps: 1, inputSize: 32 }), { message: /one window, not several patches/ });
  await t.throwsAsync(sr.blendPatches(img, [], opts), { message: new RegExp(`the plan has ${n} patches, got 0`) });
  t.throws(() => sr.plan(12, 12, { steps: 0 }), { message: /option steps must be ≥ 1/ });
});
