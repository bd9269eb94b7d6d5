// The plan `StableSR.upscale` runs (options resolved against the model, then the pipeline's own plan), at the
// released 512 configuration's sizes: number math only, no weights. Expected values follow the canvas rules of
// the fixtures README 7.13 (worked out per case).
import test from 'ava';
import { planFor } from '../src/srPipeline.js';
import { STABLESR_PRESETS } from '../src/stableSRConfig.js';
import { type UpscaleModelLimits, resolveUpscaleOptions } from '../src/upscaleOptions.js';
import { upscaleRun } from '../src/upscaleRun.js';

const preset = STABLESR_PRESETS['512'];
const unetLevels = (preset.unet_config as { channel_mult: number[] }).channel_mult.length;
const limits: UpscaleModelLimits = { timesteps: preset.timesteps, imageSize: preset.image_size, downFactor: 2 ** (unetLevels - 1), downsampling: 8 };
const models = { downsampling: limits.downsampling, unetDownFactor: limits.downFactor };

function plan(h: number, w: number, options: Parameters<typeof resolveUpscaleOptions>[0]) {
  const o = resolveUpscaleOptions(options, limits);
  const { sampling, run } = upscaleRun(o, preset);
  return { o, plan: planFor(models, h, w, sampling, run) };
}

test('--input-size 256 with the 512 preset: a 128² input at scale 4 samples a 64² latent in 32² tiles', (t) => {
  // s = max(256/128, 4) = 4 → 512², no padding → latent 64²; tile 256/8 = 32, overlap 16 → origins 0, 16, 32 → 9 tiles.
  const { o, plan: p } = plan(128, 128, { inputSize: 256, steps: 10 });
  t.is(o.tileSize, 32);
  t.is(o.tileOverlap, 16);
  t.deepEqual([p.inputHeight, p.inputWidth], [512, 512]);
  t.deepEqual(p.tilesPerStep, [9]);
  t.is(p.evaluations, 90);
  t.deepEqual([p.outputHeight, p.outputWidth], [512, 512]);
  // The config's input size 512: the same canvas in one 64² tile.
  const d = plan(128, 128, { steps: 10 });
  t.is(d.o.tileSize, 64);
  t.deepEqual(d.plan.tilesPerStep, [1]);
});

test('--input-size 256 with the 512 preset: a small input is upscaled to 256, not 512, and scaled back', (t) => {
  // 64×48 at scale 2: s = max(256/48, 2) = 5.33 → int(48·5.33) = 256, int(64·5.33) = 341 → padded 288×352 →
  // latent 36×44, tiles of 32 (overlap 16): y origins 0, 4 and x origins 0, 12 → 4 tiles; downscale by 2/5.33 → 108×132.
  const { plan: p } = plan(48, 64, { inputSize: 256, scale: 2, steps: 1 });
  t.deepEqual([p.inputHeight, p.inputWidth], [288, 352]);
  t.deepEqual(p.tilesPerStep, [4]);
  t.deepEqual([p.outputHeight, p.outputWidth], [108, 132]);
  // With 512: s = max(512/48, 2) = 10.67 → 512×682 → padded 544×704 → latent 68×88, tile 64: 2 × 2 = 4 tiles.
  const d = plan(48, 64, { scale: 2, steps: 1 });
  t.deepEqual([d.plan.inputHeight, d.plan.inputWidth], [544, 704]);
});

test('pixel patches: the plan splits canvases above the patch size and counts tiles per patch', (t) => {
  // 400×400 at scale 4 → 1600² (no padding) → patches of 1280 stride 1000: origins 0, 320 (moved back) → 2 × 2 patches
  // of 1280² → latent 160², tile 64 overlap 32: origins 0, 32, 64, 96 → 16 tiles per patch.
  const { plan: p } = plan(400, 400, { steps: 2 });
  t.is(p.patches.length, 4);
  t.deepEqual(p.tilesPerStep, [16, 16, 16, 16]);
  t.is(p.evaluations, 2 * 64);
});
