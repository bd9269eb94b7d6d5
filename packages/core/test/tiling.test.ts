import test from 'ava';
import { blendNormalizer, gaussianTileWeights, imagePatchPlan, latentTilePlan, patchStarts, tileOrigins } from '@stablesr/core';

test('latent tile origins: stride T − ov, last tile flush with the border', (t) => {
  t.deepEqual(tileOrigins(16, 8, 4), [0, 4, 8]);
  t.deepEqual(tileOrigins(12, 8, 4), [0, 4]);
  t.deepEqual(tileOrigins(8, 8, 4), [0]);
  t.deepEqual(tileOrigins(100, 64, 32), [0, 32, 36]); // ends 64, 96, then 128 ≥ 100: the third moves back to 36
  t.deepEqual(tileOrigins(200, 64, 32), [0, 32, 64, 96, 128, 136]);
  t.deepEqual(tileOrigins(5, 8, 4), [0]);
  t.throws(() => tileOrigins(16, 8, 8), { message: /overlap \(8\) must be smaller than the tile size \(8\)/ });
  t.throws(() => tileOrigins(16, 0, 0), { message: /tile size/ });
});

test('latent tile plan is x-major and matches the reference grid of the public tiled fixture', (t) => {
  const plan = latentTilePlan(12, 16, 8, 4);
  // From sampler.ddpm-sr-tiled manifest `tiles.order` (the reference's own visiting order).
  const expected = [[0, 0, 0, 0], [0, 1, 4, 0], [1, 0, 0, 4], [1, 1, 4, 4], [2, 0, 0, 8], [2, 1, 4, 8]];
  t.deepEqual(plan.map((p) => [p.row, p.col, p.y0, p.x0]), expected);
  t.true(plan.every((p) => p.h === 8 && p.w === 8));
  const small = latentTilePlan(5, 20, 8, 4);
  t.true(small.every((p) => p.h === 5 && p.w === 8 && p.y0 === 0));
});

test('gaussian tile weights: x centre (w − 1)/2, y centre h/2', (t) => {
  const w = gaussianTileWeights(8, 8);
  const g = (u: number, m: number, n: number) => Math.exp((-(u - m) * (u - m)) / (n * n) / 0.02) / Math.sqrt(0.02 * Math.PI);
  for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) t.is(w[y * 8 + x], g(y, 4, 8) * g(x, 3.5, 8));
  // Symmetric in x around 3.5, peak in y at row 4.
  t.is(w[0 * 8 + 0], w[0 * 8 + 7]);
  const col = Array.from({ length: 8 }, (_, y) => w[y * 8]!);
  t.is(col.indexOf(Math.max(...col)), 4);
  const rect = gaussianTileWeights(3, 5);
  t.is(rect.length, 15);
  const norm = blendNormalizer(12, 16, latentTilePlan(12, 16, 8, 4));
  t.true(norm.every((v) => v > 0));
  t.is(norm[0], w[0]); // only the first tile covers the corner
});

test('image patches follow ImageSpliterTh.extract_starts', (t) => {
  t.deepEqual(patchStarts(1280, 1280, 1000), [0]);
  t.deepEqual(patchStarts(1500, 1280, 1000), [0, 220]);
  t.deepEqual(patchStarts(2100, 1280, 1000), [0, 820]); // 1000 and 2000 overrun: both move back to 820 (reference)
  t.deepEqual(patchStarts(2048, 1280, 1000), [0, 768]);
  t.deepEqual(patchStarts(8192, 1280, 1000), [0, 1000, 2000, 3000, 4000, 5000, 6000, 6912]);
  t.deepEqual(patchStarts(3000, 1280, 1000), [0, 1000, 1720]);
  const plan = imagePatchPlan(1500, 2100);
  t.deepEqual(plan.map((p) => [p.y0, p.x0]), [[0, 0], [220, 0], [0, 820], [220, 820]]);
  t.throws(() => patchStarts(10, 4, 5), { message: /stride/ });
});
