// The wasm Conv2DBackpropFilter kernel (a batch/channel-swapped convolution), reached through tf.grad of a conv,
// against the definition of the filter gradient summed directly in float64 plain JS, on the paddings and strides the networks use and on 'same' padding.
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { SeededNoise } from '@stablesr/core';
import { withTrainingBackend } from '../src/index.js';

/** dW[kh,kw,ci,co] = Σ_{b,y,x} x[b, y·s + kh − top, x·s + kw − left, ci] · dy[b,y,x,co], zero outside x. */
function filterGradReference(x: tf.Tensor4D, dy: tf.Tensor4D, k: number, s: number, top: number, left: number): Float64Array {
  const [b, h, w, ci] = x.shape;
  const [, oh, ow, co] = dy.shape;
  const xs = x.dataSync();
  const ds = dy.dataSync();
  const out = new Float64Array(k * k * ci * co);
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) for (let n = 0; n < b; n++) for (let y = 0; y < oh; y++) for (let xx = 0; xx < ow; xx++) {
    const r = y * s + i - top;
    const c = xx * s + j - left;
    if (r < 0 || r >= h || c < 0 || c >= w) continue;
    for (let p = 0; p < ci; p++) {
      const xv = xs[((n * h + r) * w + c) * ci + p]!;
      for (let q = 0; q < co; q++) out[((i * k + j) * ci + p) * co + q]! += xv * ds[((n * oh + y) * ow + xx) * co + q]!;
    }
  }
  return out;
}

const cases: { name: string; hw: [number, number]; ci: number; co: number; k: number; s: number; pad: 'same' | 'valid' | number | tf.backend_util.ExplicitPadding }[] = [
  { name: '3×3 stride 1 pad 1 (ResBlock conv)', hw: [9, 7], ci: 3, co: 5, k: 3, s: 1, pad: 1 },
  { name: '4×4 stride 2 pad 1 (Downsample)', hw: [10, 8], ci: 4, co: 6, k: 4, s: 2, pad: [[0, 0], [1, 1], [1, 1], [0, 0]] },
  { name: '7×7 stride 1 valid (init_conv on a padded map)', hw: [12, 11], ci: 2, co: 3, k: 7, s: 1, pad: 'valid' },
  { name: "3×3 stride 2 'same' on an odd size", hw: [9, 11], ci: 3, co: 2, k: 3, s: 2, pad: 'same' },
];

for (const c of cases) {
  test.serial(`wasm filter gradient equals the float64 sum: ${c.name}`, async (t) => {
    await withTrainingBackend(async () => {
      t.is(tf.getBackend(), 'wasm');
      const noise = new SeededNoise(11);
      const x = noise.draw([2, ...c.hw, c.ci]) as tf.Tensor4D;
      const info = tf.backend_util.computeConv2DInfo(x.shape, [c.k, c.k, c.ci, c.co], c.s, 1, c.pad, undefined, false, 'channelsLast');
      const dy = noise.draw([2, info.outHeight, info.outWidth, c.co]) as tf.Tensor4D;
      const before = tf.memory().numTensors;
      // d/dW Σ conv(x, W)·dy is the filter gradient for output gradient dy: the path autodiff takes to the kernel.
      const w0 = tf.zeros([c.k, c.k, c.ci, c.co]) as tf.Tensor4D;
      const g = tf.grad((w: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x, w as tf.Tensor4D, c.s, c.pad), dy)))(w0);
      w0.dispose();
      t.deepEqual(g.shape, [c.k, c.k, c.ci, c.co]);
      const ref = filterGradReference(x, dy, c.k, c.s, info.padInfo.top, info.padInfo.left);
      const got = g.dataSync();
      let err = 0;
      let mag = 0;
      for (let i = 0; i < ref.length; i++) {
        err = Math.max(err, Math.abs(got[i]! - ref[i]!));
        mag = Math.max(mag, Math.abs(ref[i]!));
      }
      // Float32 sums of ≤ 2·oh·ow products of unit normals: a few ulps of the largest entry.
      t.true(mag > 1, `gradient magnitude ${mag}`);
      t.true(err <= 1e-5 * mag, `max |Δ| ${err} (max |ref| ${mag})`);
      g.dispose();
      t.is(tf.memory().numTensors, before, 'the kernel leaked tensors');
      tf.dispose([x, dy]);
    }, { backend: 'wasm' });
  });
}
