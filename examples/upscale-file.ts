// Upscales one image file 4×.
//   npm run example:upscale-file -- input.png output.png --checkpoint stablesr_000117.ckpt --cfw vqgan_cfw_00011.ckpt
// (or set STABLESR_CHECKPOINT / STABLESR_CFW / STABLESR_CONFIG / STABLESR_TOKENIZER).
import { initBackend, writeImage } from '@stablesr/core';
import { loadStableSR } from '@stablesr/cli';
import { fail, SR_WEIGHTS, srLoadOptions, takeWeightPaths } from './weightPaths.js';
import { runMain } from './runMain.js';

const { paths, rest } = takeWeightPaths(process.argv.slice(2), SR_WEIGHTS);
const [input, output, steps = '50'] = rest;
if (!input || !output) fail('usage: upscale-file <input> <output> [steps] --checkpoint FILE [--cfw FILE]');

runMain(async () => {
  const backend = await initBackend();
  const sr = await loadStableSR({ ...srLoadOptions(paths), backend: backend.name });
  try {
    const t0 = performance.now();
    const { image } = await sr.upscale(input, {
      scale: 4,
      steps: Number(steps),
      sampler: 'ddpm',
      fidelity: 0.5,
      colorFix: 'wavelet',
      seed: 42,
      onProgress: (e) => process.stderr.write(`\r${e.stage} ${e.done}/${e.total}   `),
    });
    await writeImage(output, image);
    console.log(`\n${input} → ${output} (${image.width}×${image.height}) in ${((performance.now() - t0) / 1000).toFixed(1)} s on ${backend.name}`);
  } finally {
    sr.dispose();
  }
});
