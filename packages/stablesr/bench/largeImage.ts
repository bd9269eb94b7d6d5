// Memory-bounded SR of a larger image through the public API (`StableSR.load` + `upscale`) with the tiny `sr-a`
// model of the golden fixtures: latent tiles with Gaussian blending, tiled VAE. Prints time, network evaluations
// and memory (process peak RSS; tfjs bytes held, sampled at every progress event) for a growing input, so that memory staying flat while the image grows shows
// the run is bounded by the tile size, not the image size.
// `npm run bench -- largeImage` (args: [steps] [sides…], default 2 steps, 64 and 160 px squares).
import * as tf from '@tensorflow/tfjs-core';
import { type RawImage, fixturesRoot, initBackend } from '@stablesr/core';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StableSR } from '../src/stableSR.js';

const root = fixturesRoot();
if (!root) {
  console.log('largeImage: ../shared/fixtures not found (set STABLESR_FIXTURES); nothing to run');
  process.exit(0);
}
const [stepsArg, ...sidesArg] = process.argv.slice(2).map(Number);
const steps = stepsArg && stepsArg > 0 ? stepsArg : 2;
const sides = sidesArg.length ? sidesArg : [64, 160];

const info = await initBackend();
const models = join(root, '_models');
const modelConfig = (JSON.parse(readFileSync(join(root, 'sampler.ddpm-sr', 'manifest.json'), 'utf8')) as { config: { model: Record<string, unknown> } }).config.model;
const sr = await StableSR.load({
  checkpoint: join(models, 'sr-a/stablesr.safetensors'),
  cfw: join(models, 'sr-a/vqgan_cfw.safetensors'),
  textEncoder: join(models, 'text-a/openclip_text.safetensors'),
  config: modelConfig,
  // Pixel tiles of 256 for the VAE (the tiny model's analogue of the default 512).
  vaeTileSize: 256,
});

function picture(side: number): RawImage {
  const data = new Uint8Array(side * side * 3);
  for (let i = 0; i < data.length; i++) data[i] = (Math.sin(i * 0.013) * 0.5 + 0.5) * 255;
  return { data, width: side, height: side, channels: 3 };
}

const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
console.log(`backend ${info.name}; tiny StableSR (sr-a), ${steps} DDPM steps, scale 4, inputSize 64, latent tiles 16 / overlap 8`);
console.log('input      output     evals    seconds  tfjs@steps    peak RSS');
try {
  for (const side of sides) {
    let peakTf = 0;
    const res = await sr.upscale(picture(side), {
      steps,
      inputSize: 64,
      tileSize: 16,
      tileOverlap: 8,
      onProgress: () => {
        peakTf = Math.max(peakTf, tf.memory().numBytes);
      },
    });
    // maxRSS is the process high-water mark (KiB), so each row shows the peak up to and including that size.
    const rss = process.resourceUsage().maxRSS * 1024;
    console.log(
      `${`${side}²`.padEnd(10)} ${`${res.width}×${res.height}`.padEnd(10)} ${String(res.evaluations).padStart(5)} ${res.seconds.toFixed(1).padStart(10)} ${mb(peakTf).padStart(11)} ${mb(rss).padStart(11)}`,
    );
  }
} finally {
  sr.dispose();
}
