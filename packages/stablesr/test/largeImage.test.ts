import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { SeededNoise, gaussianTileWeights, imagePatchPlan } from '@stablesr/core';
import { canvasWindow } from '../src/canvasWindow.js';
import { type CanvasColumns, PatchBlender } from '../src/patchBlender.js';
import { preprocessCanvas } from '../src/preprocess.js';
import { type OutputStrip, type SamplingParams, superResolve, superResolveStrips } from '../src/srPipeline.js';
import { canvasRecipe } from '../src/srRecipe.js';
import { fakeModels } from './fakeModels.js';

const schedule = { linearStart: 0.00085, linearEnd: 0.012, timesteps: 1000 };
const params: SamplingParams = { sampler: 'ddim', steps: 2, eta: 1, parameterization: 'eps', tileSize: 8, tileOverlap: 4 };

async function maxDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const d = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))));
  const v = (await d.data())[0]!;
  d.dispose();
  return v;
}

test.serial('canvasWindow equals the same window of the whole pre-processed canvas, padding included', async (t) => {
  // 23×37 at scale 4 → 92×148, reflect-padded to 96×160; windows cross the padding on both axes.
  const lr = tf.randomUniform([1, 23, 37, 3], -1.2, 1.2, 'float32', 9) as tf.Tensor4D;
  const { image, geometry } = preprocessCanvas(lr, 64, 4);
  t.deepEqual([geometry.padH, geometry.padW], [4, 12]);
  const before = tf.memory().numTensors;
  for (const box of [
    { y0: 0, x0: 0, h: 96, w: 160 },
    { y0: 10, x0: 33, h: 64, w: 64 },
    { y0: 32, x0: 96, h: 64, w: 64 },
    { y0: 90, x0: 150, h: 6, w: 10 },
  ]) {
    const win = canvasWindow(lr, geometry, box);
    const ref = tf.slice(image, [0, box.y0, box.x0, 0], [1, box.h, box.w, 3]);
    const d = await maxDiff(win, ref);
    t.true(d <= 1e-6, `window ${JSON.stringify(box)}: max diff ${d}`);
    tf.dispose([win, ref]);
  }
  t.is(tf.memory().numTensors, before);
  t.throws(() => canvasWindow(lr, geometry, { y0: 90, x0: 0, h: 8, w: 8 }), { message: /outside the 160×96 canvas/ });
  tf.dispose([lr, image]);
});

for (const blend of ['uniform', 'gaussian'] as const) {
  test(`PatchBlender (${blend}) equals Σ out·w / Σ w over the whole canvas and emits every column once, in order`, (t) => {
    const [B, H, W, C] = [2, 50, 70, 3];
    // x starts 0, 24, 48 → 38 (moved back to the border); y starts 0, 24 → 18, 48 → 18 (deduplicated).
    const plan = imagePatchPlan(H, W, 32, 24);
    t.deepEqual([...new Set(plan.map((q) => q.x0))], [0, 24, 38]);
    t.deepEqual([...new Set(plan.map((q) => q.y0))], [0, 18]);
    const wts = blend === 'gaussian' ? Float32Array.from(gaussianTileWeights(32, 32)) : new Float32Array(32 * 32).fill(1);
    const acc = new Float64Array(B * H * W * C);
    const norm = new Float64Array(H * W);
    const emitted: CanvasColumns[] = [];
    const blender = new PatchBlender(B, H, W, C, plan, blend, (c) => emitted.push(c));
    let seed = 1;
    const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
    let maxBand = 0;
    for (const q of plan) {
      const data = Float32Array.from({ length: B * q.h * q.w * C }, rand);
      for (let b = 0; b < B; b++)
        for (let y = 0; y < q.h; y++)
          for (let x = 0; x < q.w; x++) {
            const w = wts[y * q.w + x]!;
            if (b === 0) norm[(q.y0 + y) * W + q.x0 + x]! += w;
            for (let c = 0; c < C; c++) acc[(((b * H + q.y0 + y) * W + q.x0 + x) * C) + c]! += data[((b * q.h + y) * q.w + x) * C + c]! * w;
          }
      blender.add(data);
      maxBand = Math.max(maxBand, blender.bytes);
    }
    t.deepEqual(
      emitted.map((e) => [e.x0, e.width]),
      [[0, 24], [24, 14], [38, 32]],
    );
    t.true(maxBand < B * H * W * C * 4, 'the blender never holds the whole canvas');
    let worst = 0;
    for (const e of emitted)
      for (let b = 0; b < B; b++)
        for (let y = 0; y < H; y++)
          for (let x = 0; x < e.width; x++)
            for (let c = 0; c < C; c++) {
              const want = acc[((b * H + y) * W + e.x0 + x) * C + c]! / norm[y * W + e.x0 + x]!;
              worst = Math.max(worst, Math.abs(e.data[((b * H + y) * e.width + x) * C + c]! - want));
            }
    t.true(worst < 1e-5, `max diff ${worst}`);
    t.throws(() => blender.add(new Float32Array(B * 32 * 32 * C)), { message: /more patches than the plan has/ });
  });
}

for (const sampler of ['ddpm', 'ddim'] as const) {
  test.serial(`superResolveStrips (${sampler}, ${canvasRecipe(sampler).patchBlend} patches) equals superResolve, column strip by column strip`, async (t) => {
    const models = fakeModels({ cfw: true });
    const lr = tf.randomUniform([1, 21, 45, 3], -1, 1, 'float32', 4) as tf.Tensor4D;
    const context = tf.zeros([1, 77, 8]) as tf.Tensor3D;
    const opts = {
      schedule, fidelity: 0.5, colorFix: 'wavelet' as const, upscale: 4, inputSize: 64, patchSize: 96, patchStride: 64, recipe: canvasRecipe(sampler),
    };
    const before = tf.memory().numTensors;
    const { image } = await superResolve(models, lr, { context }, { ...params, sampler }, { ...opts, noise: new SeededNoise(5) });
    const ref = await image.data();
    const [, oh, ow] = image.shape;
    image.dispose();
    const strips: OutputStrip[] = [];
    const size = await superResolveStrips(models, lr, { context }, { ...params, sampler }, {
      ...opts, noise: new SeededNoise(5),
    }, (s) => strips.push(s));
    t.deepEqual([size.height, size.width], [oh, ow]);
    t.deepEqual([oh, ow], [84, 180]);
    t.true(strips.length > 1, 'several strips');
    t.is(strips.reduce((a, s) => a + s.width, 0), ow);
    let worst = 0;
    let x0 = 0;
    for (const s of strips) {
      t.is(s.x0, x0);
      x0 += s.width;
      for (let y = 0; y < oh; y++) for (let k = 0; k < s.width * 3; k++) worst = Math.max(worst, Math.abs(s.data[y * s.width * 3 + k]! - ref[(y * ow + s.x0) * 3 + k]!));
    }
    t.is(worst, 0);
    t.is(tf.memory().numTensors, before);
    tf.dispose([lr, context]);
  });
}
