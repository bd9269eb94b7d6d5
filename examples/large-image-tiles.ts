// Upscales a large image with latent tiling (Gaussian-blended tiles, as StableSR's canvas scripts) and shows
// how many tiles each sampling step visits. Ctrl-C aborts between U-Net calls.
//   npm run example:large-image-tiles -- big.jpg big-4x.png --checkpoint stablesr_000117.ckpt [--tile-size 64] [--tile-overlap 32] [--steps 50] [--preset 768v]
// Tile sizes are in latent pixels (1 latent pixel = 8 image pixels); the default tile is the model's input
// size / 8 (64 for the 512 model) with half of it as overlap.
import { probeImage, writeImage } from '@stablesr/core';
import { StableSR, type UpscaleOptions } from '@stablesr/stablesr';
import { fail, SR_WEIGHTS, srLoadOptions, takeValue, takeWeightPaths } from './weightPaths.js';
import { runMain } from './runMain.js';

const { paths, rest } = takeWeightPaths(process.argv.slice(2), SR_WEIGHTS);
const loadOptions = srLoadOptions(paths, rest);
const num = (flag: string): number | undefined => {
  const raw = takeValue(rest, flag);
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 0) fail(`${flag} must be a whole number, got "${raw}"`);
  return v;
};
const tileSize = num('--tile-size');
const tileOverlap = num('--tile-overlap');
const steps = num('--steps') ?? 50;
const [input, output] = rest;
if (!input || !output) fail('usage: large-image-tiles <input> <output> --checkpoint FILE [--tile-size N] [--tile-overlap N] [--steps 50]');

runMain(async () => {
  const info = await probeImage(input);
  const sr = await StableSR.load(loadOptions);
  const ctrl = new AbortController();
  process.once('SIGINT', () => ctrl.abort());
  try {
    const t0 = performance.now();
    let announced = false;
    const opts: UpscaleOptions = {
      steps,
      signal: ctrl.signal,
      onProgress: (e) => {
        // `sample` counts U-Net calls over the whole image: steps × latent tiles × pixel patches.
        if (e.stage === 'sample' && !announced) {
          announced = true;
          console.log(`${info.width}×${info.height} → ${info.width * 4}×${info.height * 4}: ${e.total / steps} latent tile(s) × ${steps} steps = ${e.total} U-Net calls`);
        }
        const s = (performance.now() - t0) / 1000;
        process.stderr.write(`\r${e.stage} ${e.done}/${e.total} ${s.toFixed(0)} s   `);
      },
    };
    if (tileSize !== undefined) opts.tileSize = tileSize;
    if (tileOverlap !== undefined) opts.tileOverlap = tileOverlap;
    const { image } = await sr.upscale(input, opts);
    await writeImage(output, image);
    console.log(`\nwrote ${output} (${image.width}×${image.height}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  } finally {
    sr.dispose();
  }
});
