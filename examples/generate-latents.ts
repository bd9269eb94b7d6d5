// Text → latents with an SD 2.x checkpoint, saved as safetensors (and optionally decoded to a PNG).
//   npm run example:generate-latents -- "a photo of a cat" latents.safetensors [image.png] --checkpoint v2-1_512-ema-pruned.ckpt --tokenizer bpe_simple_vocab_16e6.txt.gz
// (or set SD_CHECKPOINT / SD_TEXT_ENCODER / SD_TOKENIZER / SD_VAE).
import { encodeSafetensors, initBackend, writeFileAtomic, writeImage } from '@stablesr/core';
import { loadTextToLatent } from '@stablesr/cli';
import { fail, takeWeightPaths } from './weightPaths.js';
import { runMain } from './runMain.js';

const { paths, rest } = takeWeightPaths(process.argv.slice(2), [
  { flag: 'checkpoint', env: 'SD_CHECKPOINT', required: true, what: 'Stable Diffusion 2.x checkpoint (e.g. v2-1_512-ema-pruned.ckpt from https://huggingface.co/stabilityai/stable-diffusion-2-1-base)' },
  { flag: 'text-encoder', env: 'SD_TEXT_ENCODER', required: false, what: 'OpenCLIP text tower weights' },
  { flag: 'tokenizer', env: 'SD_TOKENIZER', required: false, what: 'OpenCLIP vocabulary bpe_simple_vocab_16e6.txt.gz' },
  { flag: 'vae', env: 'SD_VAE', required: false, what: 'first-stage VAE weights' },
]);
const [prompt, latentsOut, imageOut] = rest;
if (!prompt || !latentsOut) fail('usage: generate-latents "<prompt>" <latents.safetensors> [image.png] --checkpoint FILE');

runMain(async () => {
  const backend = await initBackend();
  const gen = await loadTextToLatent({
    checkpoint: paths.checkpoint!,
    backend: backend.name,
    ...(paths['text-encoder'] && { textEncoder: paths['text-encoder'] }),
    ...(paths.tokenizer && { tokenizer: paths.tokenizer }),
    ...(paths.vae && { vae: paths.vae }),
  });
  try {
    const { latents, decoded, image } = await gen.generate({
      prompt,
      steps: 30,
      guidanceScale: 9,
      width: 512,
      height: 512,
      sampler: 'ddim',
      seed: 42,
      decode: imageOut !== undefined,
      onProgress: (e) => process.stderr.write(`\r${e.stage} ${e.done}/${e.total}  `),
    });
    // Latents come back NHWC; the file holds them as the reference stores them (NCHW).
    const [b, h, w, c] = latents.shape as [number, number, number, number];
    const src = await latents.data();
    const nchw = new Float32Array(src.length);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) nchw[(k * h + y) * w + x] = src[(y * w + x) * c + k]!;
    await writeFileAtomic(latentsOut, encodeSafetensors({ latents: { shape: [b, c, h, w], data: nchw } }, { prompt }));
    // `decoded` is in [-1, 1], the convention writeImage expects.
    if (imageOut && decoded) await writeImage(imageOut, decoded as unknown as Parameters<typeof writeImage>[1]);
    console.log(`\nwrote ${latentsOut}${imageOut ? ` and ${imageOut}` : ''}`);
    latents.dispose();
    decoded?.dispose();
    image?.dispose();
  } finally {
    gen.dispose();
  }
});
