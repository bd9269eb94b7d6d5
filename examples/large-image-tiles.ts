// Upscales a large image with latent tiling (Gaussian-blended tiles, as StableSR's canvas scripts) and shows
// the tile plan first.
//   npm run example:large-image-tiles -- big.jpg big-4x.png --checkpoint stablesr_000117.ckpt [--tile-size 64] [--tile-overlap 32]
import { initBackend, latentTilePlan, probeImage, writeImage } from '@stablesr/core';
import { loadStableSR } from '@stablesr/cli';
import { fail, SR_WEIGHTS, srLoadOptions, takeWeightPaths } from './weightPaths.js';
import { runMain } from './runMain.js';

const { paths, rest } = takeWeightPaths(process.argv.slice(2), SR_WEIGHTS);
const num = (flag: string, fallback: number): number => {
  const i = rest.indexOf(flag);
  if (i < 0) return fallback;
  const v = Number(rest.splice(i, 2)[1]);
  if (!Number.isInteger(v) || v < 1) fail(`${flag} must be a positive whole number`);
  return v;
};
const tileSize = num('--tile-size', 64);
const tileOverlap = num('--tile-overlap', 32);
const steps = num('--steps', 50);
const [input, output] = rest;
if (!input || !output) fail('usage: large-image-tiles <input> <output> --checkpoint FILE [--tile-size 64] [--tile-overlap 32] [--steps 50]');
if (tileOverlap >= tileSize) fail('--tile-overlap must be smaller than --tile-size');

runMain(async () => {
  // The latent of a 4× upscale is (side · 4 / 8) per axis; each sampling step visits every tile once.
  const info = await probeImage(input);
  const latentH = Math.ceil((info.height * 4) / 8);
  const latentW = Math.ceil((info.width * 4) / 8);
  const plan = latentTilePlan(latentH, latentW, tileSize, tileOverlap);
  console.log(`${info.width}×${info.height} → latent ${latentW}×${latentH}: ${plan.length} tiles of ${tileSize} (overlap ${tileOverlap}) × ${steps} steps = ${plan.length * steps} U-Net calls`);

  const backend = await initBackend();
  const sr = await loadStableSR({ ...srLoadOptions(paths), backend: backend.name });
  const ctrl = new AbortController();
  process.once('SIGINT', () => ctrl.abort());
  try {
    const t0 = performance.now();
    const { image } = await sr.upscale(input, {
      scale: 4,
      steps,
      sampler: 'ddpm',
      tileSize,
      tileOverlap,
      fidelity: 0.5,
      colorFix: 'wavelet',
      seed: 42,
      signal: ctrl.signal,
      onProgress: (e) => {
        const s = (performance.now() - t0) / 1000;
        process.stderr.write(`\r${e.stage} ${e.done}/${e.total} ${e.detail ? JSON.stringify(e.detail) : ''} ${s.toFixed(0)} s   `);
      },
    });
    await writeImage(output, image);
    console.log(`\nwrote ${output} (${image.width}×${image.height}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  } finally {
    sr.dispose();
  }
});
