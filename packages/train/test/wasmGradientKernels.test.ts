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

/** Largest |got − ref| and largest |ref|. */
function errorAndMagnitude(got: ArrayLike<number>, ref: ArrayLike<number>): { err: number; mag: number } {
  let err = 0;
  let mag = 0;
  for (let i = 0; i < ref.length; i++) {
    err = Math.max(err, Math.abs(got[i]! - ref[i]!));
    mag = Math.max(mag, Math.abs(ref[i]!));
  }
  return { err, mag };
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
      const { err, mag } = errorAndMagnitude(got, ref);
      // Float32 sums of ≤ 2·oh·ow products of unit normals: a few ulps of the largest entry.
      t.true(mag > 1, `gradient magnitude ${mag}`);
      t.true(err <= 1e-5 * mag, `max |Δ| ${err} (max |ref| ${mag})`);
      g.dispose();
      t.is(tf.memory().numTensors, before, 'the kernel leaked tensors');
      tf.dispose([x, dy]);
    }, { backend: 'wasm' });
  });
}

/** dx[b,r,c,ci] = Σ_{i,j,y,x: y·s + i − top = r, x·s + j − left = c} W[i,j,ci,co] · dy[b,y,x,co]. */
function inputGradReference(shape: readonly number[], w: tf.Tensor4D, dy: tf.Tensor4D, s: number, top: number, left: number): Float64Array {
  const [b, h, wd, ci] = shape as [number, number, number, number];
  const [k, , , co] = w.shape;
  const [, oh, ow] = dy.shape;
  const ws = w.dataSync();
  const ds = dy.dataSync();
  const out = new Float64Array(b * h * wd * ci);
  for (let n = 0; n < b; n++) for (let y = 0; y < oh; y++) for (let xx = 0; xx < ow; xx++) for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) {
    const r = y * s + i - top;
    const c = xx * s + j - left;
    if (r < 0 || r >= h || c < 0 || c >= wd) continue;
    for (let p = 0; p < ci; p++) {
      let acc = 0;
      for (let q = 0; q < co; q++) acc += ws[((i * k + j) * ci + p) * co + q]! * ds[((n * oh + y) * ow + xx) * co + q]!;
      out[((n * h + r) * wd + c) * ci + p]! += acc;
    }
  }
  return out;
}

const inputCases = [
  ...cases,
  { name: '4×4 stride 2 pad 1 on an odd size (rows the taps never reach)', hw: [9, 7] as [number, number], ci: 3, co: 4, k: 4, s: 2, pad: [[0, 0], [1, 1], [1, 1], [0, 0]] as tf.backend_util.ExplicitPadding },
  { name: "7×7 stride 1 'same'", hw: [8, 9] as [number, number], ci: 2, co: 3, k: 7, s: 1, pad: 'same' as const },
];

for (const c of inputCases) {
  test.serial(`wasm input gradient (as a convolution) equals the float64 sum: ${c.name}`, async (t) => {
    await withTrainingBackend(async () => {
      const noise = new SeededNoise(12);
      const w = noise.draw([c.k, c.k, c.ci, c.co]) as tf.Tensor4D;
      const xShape = [2, ...c.hw, c.ci] as [number, number, number, number];
      const info = tf.backend_util.computeConv2DInfo(xShape, w.shape, c.s, 1, c.pad, undefined, false, 'channelsLast');
      const dy = noise.draw([2, info.outHeight, info.outWidth, c.co]) as tf.Tensor4D;
      const before = tf.memory().numTensors;
      const x0 = tf.zeros(xShape) as tf.Tensor4D;
      const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x as tf.Tensor4D, w, c.s, c.pad), dy)))(x0);
      x0.dispose();
      t.deepEqual(g.shape, xShape);
      const ref = inputGradReference(xShape, w, dy, c.s, info.padInfo.top, info.padInfo.left);
      const got = g.dataSync();
      const { err, mag } = errorAndMagnitude(got, ref);
      t.true(mag > 1, `gradient magnitude ${mag}`);
      t.true(err <= 1e-5 * mag, `max |Δ| ${err} (max |ref| ${mag})`);
      g.dispose();
      t.is(tf.memory().numTensors, before, 'the kernel leaked tensors');
      tf.dispose([w, dy]);
    }, { backend: 'wasm' });
  });
}

test.serial('wasm matMul with transposed operands equals the product of the explicit transposes (2-D and batched)', async (t) => {
  await withTrainingBackend(async () => {
    const noise = new SeededNoise(13);
    for (const [ta, tb, aShape, bShape] of [
      [true, false, [17, 5], [17, 6]],
      [false, true, [5, 17], [6, 17]],
      [true, true, [3, 17, 5], [3, 6, 17]],
      [true, false, [2, 3, 17, 5], [2, 3, 17, 6]],
    ] as const) {
      const a = noise.draw([...aShape]);
      const b = noise.draw([...bShape]);
      const before = tf.memory().numTensors;
      const got = tf.matMul(a, b, ta, tb);
      t.is(tf.memory().numTensors, before + 1, 'transposes leaked');
      // The reference: float64 sums over the contracted axis.
      const A = a.arraySync() as unknown;
      const B = b.arraySync() as unknown;
      const pick = (m: unknown, idx: number[]): number => idx.reduce((v: unknown, i) => (v as unknown[])[i], m) as number;
      const batch = aShape.slice(0, -2);
      const [m, kk] = ta ? [aShape.at(-1)!, aShape.at(-2)!] : [aShape.at(-2)!, aShape.at(-1)!];
      const n = tb ? bShape.at(-2)! : bShape.at(-1)!;
      const g = got.dataSync();
      let err = 0;
      const nb = batch.reduce((x, y) => x * y, 1);
      for (let bi = 0; bi < nb; bi++) {
        const bIdx = batch.length === 2 ? [Math.floor(bi / batch[1]!), bi % batch[1]!] : batch.length === 1 ? [bi] : [];
        for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
          let s = 0;
          for (let k = 0; k < kk; k++) s += pick(A, [...bIdx, ...(ta ? [k, i] : [i, k])]) * pick(B, [...bIdx, ...(tb ? [j, k] : [k, j])]);
          err = Math.max(err, Math.abs(g[(bi * m + i) * n + j]! - s));
        }
      }
      t.deepEqual(got.shape, [...batch, m, n]);
      t.true(err < 1e-4, `transposeA ${ta} transposeB ${tb} [${aShape}]·[${bShape}]: max |Δ| ${err}`);
      tf.dispose([a, b, got]);
    }
  }, { backend: 'wasm' });
});
