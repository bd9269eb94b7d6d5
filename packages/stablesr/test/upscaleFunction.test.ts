// `upscale()`: one call, no weights given → the shipped default model; StableSR-only options are refused for it.
import test from 'ava';
import sharp from 'sharp';
import { upscale } from '../src/index.js';

test('upscale(image) with no checkpoint runs the default model 4×', async (t) => {
  const png = await sharp(Uint8Array.from({ length: 12 * 20 * 3 }, (_, i) => (i * 37) % 256), { raw: { width: 20, height: 12, channels: 3 } }).png().toBuffer();
  const r = await upscale(png, { scale: 4, steps: 3 });
  t.is(r.model, 'default');
  t.deepEqual([r.image.width, r.image.height, r.image.channels], [80, 48, 3]);
  await t.throwsAsync(upscale(png, { cfw: 'vqgan_cfw_00011.ckpt' }), { message: /option cfw applies to StableSR checkpoints; the default model is an IR-SDE model/ });
  await t.throwsAsync(upscale(png, { scale: 3 }), { message: /option scale 3: this model was trained for ×4 only/ });
});
