// Upscales one image file 4× with the library API (`StableSR.load` → `sr.upscale` → `sr.dispose`).
//   npm run example:upscale-file -- input.png output.png [steps] --checkpoint stablesr_000117.ckpt --cfw vqgan_cfw_00011.ckpt [--preset 768v]
// (or set STABLESR_CHECKPOINT / STABLESR_CFW / STABLESR_CONFIG / STABLESR_TEXT_ENCODER / STABLESR_TOKENIZER / STABLESR_PRESET).
import { writeImage } from '@stablesr/core';
import { StableSR } from '@stablesr/stablesr';
import { fail, SR_WEIGHTS, srLoadOptions, takeWeightPaths } from './weightPaths.js';
import { runMain } from './runMain.js';

const { paths, rest } = takeWeightPaths(process.argv.slice(2), SR_WEIGHTS);
const loadOptions = srLoadOptions(paths, rest);
const [input, output, steps = '50'] = rest;
if (!input || !output) fail('usage: upscale-file <input> <output> [steps] --checkpoint FILE [--cfw FILE] [--preset 512|768v]');
if (!/^\d+$/.test(steps)) fail(`steps must be a whole number, got "${steps}"`);

runMain(async () => {
  // Loading picks the engine (STABLESR_ENGINE, else ONNX Runtime when it loads) and the tfjs backend (STABLESR_BACKEND).
  const sr = await StableSR.load(loadOptions);
  try {
    const t0 = performance.now();
    // scale 4, DDPM, fidelity 0.5, wavelet colour fix and seed 42 are the defaults (the official scripts').
    const { image, evaluations } = await sr.upscale(input, {
      steps: Number(steps),
      onProgress: (e) => process.stderr.write(`\r${e.stage} ${e.done}/${e.total}   `),
    });
    // RGB, or RGBA when the input had alpha; written as 8-bit samples.
    await writeImage(output, image);
    console.log(`\n${input} → ${output} (${image.width}×${image.height}, ${evaluations} U-Net calls) in ${((performance.now() - t0) / 1000).toFixed(1)} s on ${sr.engine.engine} (${sr.engine.provider})`);
  } finally {
    sr.dispose();
  }
});
