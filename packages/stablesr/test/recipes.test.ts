// The four official scripts as recipes of the shipped pipeline, on a configuration the public fixtures do not have:
// a VAE that downsamples by 4 (ch_mult of length 3) and an image_size (80) that is not the input size (40).
// Expected shapes and counts are the scripts' (fixtures README 7.12–7.15), worked out in the comments.
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { type NoiseSource, SeededNoise, openWeights } from '@stablesr/core';

type NoiseUse = string;
import { rmSync } from 'node:fs';
import { type SRModels } from '../src/srModels.js';
import { type SRNetworks, loadSRNetworks } from '../src/srNetworks.js';
import { superResolve } from '../src/srPipeline.js';
import { SR_RECIPES, type SRRecipeName } from '../src/srRecipe.js';
import { type TinyCheckpoint, writeTinyCheckpoint } from './tinyCheckpoint.js';

let tiny: TinyCheckpoint;
let nets: SRNetworks;
const files: { close(): void }[] = [];

test.before(async () => {
  tiny = await writeTinyCheckpoint({ vaeLevels: 2, imageSize: 80 });
  const ckpt = openWeights(tiny.checkpoint);
  const cfw = openWeights(tiny.cfw);
  files.push(ckpt, cfw);
  nets = await loadSRNetworks(tiny.config, ckpt, cfw);
});
test.after.always(() => {
  nets?.dispose();
  for (const f of files) f.close();
  if (tiny) rmSync(tiny.dir, { recursive: true, force: true });
});

/** Seeded noise that records what was drawn, in order. */
function recording(): { noise: NoiseSource; draws: [NoiseUse, number[]][] } {
  const inner = new SeededNoise(7);
  const draws: [NoiseUse, number[]][] = [];
  return { draws, noise: { draw: (shape, use) => (draws.push([use ?? '', [...shape]]), inner.draw(shape)) } };
}

/** The networks with the encoder calls counted. */
function counting(m: SRModels) {
  const calls = { firstStage: 0, cfw: 0, unet: 0 };
  const models: SRModels = {
    ...m,
    encodeFirstStage: (x) => (calls.firstStage++, m.encodeFirstStage(x)),
    unet: (...a) => (calls.unet++, m.unet(...a)),
    cfw: { encode: (x) => (calls.cfw++, m.cfw!.encode(x)), decode: m.cfw!.decode },
  };
  return { models, calls };
}

const schedule = { linearStart: 0.00085, linearEnd: 0.012, timesteps: 1000 };
const STEPS = 2;

interface Expect {
  /** Latent side [h, w] = model input / 4. */
  latent: [number, number];
  draws: NoiseUse[];
  traced: string[];
  encodes: { firstStage: number; cfw: number };
  unetCalls: number;
  output: [number, number];
}

// lr 20×30. Plain scripts: Resize(40) (shorter side → 40, longer int(40·30/20) = 60) + CenterCrop(40): a 40×40 input,
// a 10×10 latent; x_T is drawn at the init latent's shape, 10×10 = image_size // 8 of the reference (80 // 8), not
// image_size / f = 20. Canvas scripts with upscale 2: s = max(40 / 20, 2) = 2 → 40×60, padded to 64×64
// (((n // 32) + 1)·32 − n on both sides) → a 16×16 latent; tiles of 8 overlapping by 4: origins 0, 4, 8 → 9 per step.
const EXPECT: Record<SRRecipeName, Expect> = {
  'ddpm-crop': {
    latent: [10, 10], draws: ['posterior', 'discarded', 'x_T', 'step', 'step'],
    traced: ['image_preprocessed', 'init_latent', 'x_T_discarded', 'samples', 'enc_fea.0', 'enc_fea.1', 'decoded', 'colorfixed'],
    encodes: { firstStage: 0, cfw: 1 }, unetCalls: STEPS, output: [40, 40],
  },
  'ddim-crop': {
    latent: [10, 10], draws: ['posterior', 'x_T', 'step', 'step'],
    traced: ['image_preprocessed', 'init_latent', 'x_T', 'samples', 'enc_fea.0', 'enc_fea.1', 'decoded', 'colorfixed'],
    encodes: { firstStage: 0, cfw: 1 }, unetCalls: STEPS, output: [40, 40],
  },
  'ddpm-canvas': {
    latent: [16, 16], draws: ['posterior', 'x_T', 'step', 'step'],
    traced: ['image_preprocessed', 'init_latent', 'x_T', 'samples', 'enc_fea.0', 'enc_fea.1', 'decoded', 'colorfixed'],
    encodes: { firstStage: 1, cfw: 1 }, unetCalls: 9 * STEPS, output: [40, 60],
  },
  'ddim-canvas': {
    latent: [16, 16], draws: ['posterior', 'discarded', 'x_T', 'step', 'step'],
    traced: ['image_preprocessed', 'init_latent', 'x_T_discarded', 'samples', 'enc_fea.0', 'enc_fea.1', 'decoded', 'colorfixed'],
    encodes: { firstStage: 1, cfw: 1 }, unetCalls: 9 * STEPS, output: [40, 60],
  },
};

for (const name of Object.keys(SR_RECIPES) as SRRecipeName[]) {
  test.serial(`recipe ${name} (${SR_RECIPES[name].script}) on a VAE of factor 4, input size 40, image_size 80`, async (t) => {
    const recipe = SR_RECIPES[name];
    const e = EXPECT[name];
    const { models, calls } = counting(nets.models);
    const { noise, draws } = recording();
    const traced: [string, number[]][] = [];
    const lr = tf.randomUniform([1, 20, 30, 3], -1, 1, 'float32', 11) as tf.Tensor4D;
    const context = tf.zeros([1, 77, 16]) as tf.Tensor3D;
    const before = tf.memory().numTensors;
    const { image, plan } = await superResolve(models, lr, { context }, { sampler: recipe.sampler, steps: STEPS, eta: 1, parameterization: 'eps', tileSize: 8, tileOverlap: 4 }, {
      recipe, schedule, noise, fidelity: 0.5, colorFix: 'wavelet', upscale: 2, inputSize: 40, patchSize: 1280, patchStride: 1000,
      trace: (n, x) => traced.push([n, x.shape]),
    });
    const [lh, lw] = e.latent;
    t.deepEqual(draws.map(([u]) => u), e.draws);
    for (const [use, shape] of draws) t.deepEqual(shape, [1, lh, lw, 4], `draw ${use}`);
    t.deepEqual(traced.map(([n]) => n), e.traced);
    t.deepEqual(traced.find(([n]) => n === 'image_preprocessed')![1], [1, lh * 4, lw * 4, 3]);
    t.deepEqual(traced.find(([n]) => n === 'init_latent')![1], [1, lh, lw, 4]);
    t.deepEqual({ firstStage: calls.firstStage, cfw: calls.cfw }, e.encodes);
    t.is(calls.unet, e.unetCalls);
    t.is(plan.evaluations, e.unetCalls, 'the plan counts the evaluations that ran');
    t.deepEqual(image.shape, [1, ...e.output, 3]);
    image.dispose();
    t.is(tf.memory().numTensors, before, 'tensors leaked');
    tf.dispose([lr, context]);
  });
}

test.serial('a recipe must run its own sampler', async (t) => {
  const lr = tf.zeros([1, 20, 30, 3]) as tf.Tensor4D;
  const context = tf.zeros([1, 77, 16]) as tf.Tensor3D;
  await t.throwsAsync(
    superResolve(nets.models, lr, { context }, { sampler: 'ddim', steps: 1, parameterization: 'eps', tileSize: 8, tileOverlap: 4 }, {
      recipe: SR_RECIPES['ddpm-crop'], schedule, noise: new SeededNoise(1), fidelity: 0.5, colorFix: 'none', upscale: 2, inputSize: 40, patchSize: 1280, patchStride: 1000,
    }),
    { message: /recipe ddpm-crop runs sampler "ddpm", not "ddim"/ },
  );
  tf.dispose([lr, context]);
});
