import test from 'ava';
import { matlabBicubicTaps, matlabResize } from '@stablesr/core';

test('MATLAB bicubic keeps a constant image constant when shrinking and enlarging', (t) => {
  const src = new Float32Array(37 * 29 * 3).fill(0.625);
  for (const [h, w] of [[9, 7], [74, 58], [10, 8]] as const) {
    const out = matlabResize(src, 37, 29, 3, h, w);
    t.true(out.every((v) => Math.abs(v - 0.625) < 1e-6), `${h}×${w}`);
  }
});

test('MATLAB bicubic reproduces a linear ramp away from the borders (Keys cubic is exact on linear functions)', (t) => {
  // x-ramp, 1-based value = column index, so the output at column o must be MATLAB's source coordinate u(o).
  const W = 64, H = 4;
  const src = Float32Array.from({ length: H * W }, (_, i) => (i % W) + 1);
  const up = matlabResize(src, H, W, 1, H, 2 * W);
  for (let o = 8; o < 2 * W - 8; o++) t.true(Math.abs(up[o]! - ((o + 1) / 2 + 0.25)) < 1e-4, `×2 column ${o}: ${up[o]}`);
  // Shrinking stretches the kernel, which is still symmetric: linear functions stay linear to sampling error.
  const down = matlabResize(src, H, W, 1, H, W / 4);
  for (let o = 2; o < W / 4 - 2; o++) t.true(Math.abs(down[o]! - ((o + 1) * 4 - 1.5)) < 2e-3, `÷4 column ${o}: ${down[o]}`);
});

test('MATLAB bicubic taps: 1/4 shrink spans 18 taps that sum to 1 and mirror at the border', (t) => {
  const taps = matlabBicubicTaps(16, 4);
  t.is(taps.width, 18);
  for (let o = 0; o < 4; o++) {
    let s = 0;
    for (let k = 0; k < taps.width; k++) s += taps.weight[o * taps.width + k]!;
    t.true(Math.abs(s - 1) < 1e-12);
  }
  // Output 0 sits at source coordinate u = 4 − 1.5 = 2.5 (1-based), so its taps start at floor(2.5 − 8) = −6:
  // 1-based −6…1 mirror (edge repeated) to 7, 6, 5, 4, 3, 2, 1, 1, i.e. 0-based 6 … 0, 0, then 1, 2, …
  t.deepEqual(Array.from(taps.index.slice(0, 10)), [6, 5, 4, 3, 2, 1, 0, 0, 1, 2]);
  t.throws(() => matlabResize(new Float32Array(5), 2, 2, 1, 1, 1), { message: /5 values do not make a 2×2×1 image/ });
});
