import test from 'ava';
import { psnrY, ssimY } from '@stablesr/core';

test('PSNR-Y: a uniform RGB offset d changes luma by d·(65.481+128.553+24.966)/255, so PSNR is 20·log10(255/that)', (t) => {
  const h = 12, w = 10;
  const a = Uint8Array.from({ length: h * w * 3 }, (_, i) => 40 + (i % 90));
  const b = a.map((v) => v + 5);
  const dy = (5 * (65.481 + 128.553 + 24.966)) / 255;
  t.true(Math.abs(psnrY(a, b, h, w) - 20 * Math.log10(255 / dy)) < 1e-9);
  t.is(psnrY(a, a, h, w), Infinity);
  // Shaving ignores a damaged border.
  const c = Uint8Array.from(b);
  for (let x = 0; x < w; x++) c[x * 3] = 255;
  t.true(Math.abs(psnrY(a, c, h, w, 1) - 20 * Math.log10(255 / dy)) < 1e-9);
  t.throws(() => psnrY(a, b, h, w, 6), { message: /shaving 6 px leaves nothing/ });
});

test('SSIM-Y is 1 for identical images, symmetric, and below 1 for a noisy copy', (t) => {
  const h = 24, w = 20;
  const a = Uint8Array.from({ length: h * w * 3 }, (_, i) => Math.round(128 + 100 * Math.sin(i / 7)));
  const b = a.map((v, i) => Math.min(255, Math.max(0, v + ((i * 7919) % 21) - 10)));
  t.true(Math.abs(ssimY(a, a, h, w) - 1) < 1e-12);
  const s = ssimY(a, b, h, w);
  t.true(s < 0.999 && s > 0.5, `ssim ${s}`);
  t.true(Math.abs(s - ssimY(b, a, h, w)) < 1e-12);
});
