import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import {
  bicubicMatrix,
  bilinearMatrix,
  centerCrop,
  centerCropOffsets,
  reflectPadBottomRight,
  replicatePad,
  resizeBicubic,
  resizeBilinear,
  resizeShorterSide,
  roundHalfEven,
} from '@stablesr/core';

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-6) => a.length === b.length && Array.from(a).every((v, i) => Math.abs(v - b[i]!) <= tol);

test('bilinear 2→4 (align_corners=False): [0, 1] → [0, .25, .75, 1]', (t) => {
  // src = max(0.5·(i + 0.5) − 0.5, 0) = 0, .25, .75, 1.25 (last clamps to the border pixel).
  const x = tf.tensor4d([0, 1], [1, 1, 2, 1]);
  const y = resizeBilinear(x, 1, 4);
  t.true(close(y.dataSync(), [0, 0.25, 0.75, 1]), String(y.dataSync()));
  tf.dispose([x, y]);
});

test('bicubic 2→4: first output of [0, 1] is the A = −0.75 tap weight −0.10546875', (t) => {
  // dst 0: src = −0.25 → index −1, t = 0.75; taps −2, −1, 0, 1 clamp to 0, 0, 0, 1; only the last tap sees 1:
  // cubic2(2 − 0.75) = ((A·1.25 − 5A)·1.25 + 8A)·1.25 − 4A = −0.10546875. By symmetry the last output is 1.10546875.
  const x = tf.tensor4d([0, 1], [1, 1, 2, 1]);
  const y = resizeBicubic(x, 1, 4).dataSync();
  t.true(Math.abs(y[0]! + 0.10546875) < 1e-7, String(y));
  t.true(Math.abs(y[3]! - 1.10546875) < 1e-7, String(y));
  tf.dispose(x);
});

test('interpolation matrices: rows sum to 1, identity at equal size, mirror symmetric', (t) => {
  for (const [i, o] of [[7, 19], [19, 7], [16, 64], [96, 72], [5, 5]] as const) {
    for (const m of [bicubicMatrix(i, o), bilinearMatrix(i, o)]) {
      for (let r = 0; r < o; r++) {
        let s = 0;
        for (let c = 0; c < i; c++) s += m[r * i + c]!;
        t.true(Math.abs(s - 1) < 1e-6, `${i}→${o} row ${r} sums to ${s}`);
      }
    }
  }
  const id = bicubicMatrix(5, 5);
  for (let r = 0; r < 5; r++) for (let c = 0; c < 5; c++) t.is(id[r * 5 + c], r === c ? 1 : 0);
  // Mirror symmetry: output r of a flipped input equals output (o − 1 − r) (align_corners=False is symmetric).
  const m = bicubicMatrix(7, 19);
  for (let r = 0; r < 19; r++) for (let c = 0; c < 7; c++) t.true(Math.abs(m[r * 7 + c]! - m[(18 - r) * 7 + (6 - c)]!) < 1e-6);
});

test('separable resize handles batches and channels independently', (t) => {
  const a = tf.randomNormal([1, 6, 9, 1], 0, 1, 'float32', 1);
  const b = tf.randomNormal([1, 6, 9, 1], 0, 1, 'float32', 2);
  const x = tf.concat([tf.concat([a, b], 3), tf.concat([b, a], 3)], 0) as tf.Tensor4D; // [2, 6, 9, 2]
  const y = resizeBicubic(x, 11, 4);
  const ya = resizeBicubic(a as tf.Tensor4D, 11, 4);
  const yb = resizeBicubic(b as tf.Tensor4D, 11, 4);
  t.deepEqual(y.shape, [2, 11, 4, 2]);
  const parts = tf.split(y, 2, 3);
  const rows0 = tf.split(parts[0]!, 2, 0);
  t.true(close(rows0[0]!.dataSync(), ya.dataSync(), 1e-5));
  t.true(close(rows0[1]!.dataSync(), yb.dataSync(), 1e-5));
  tf.dispose([a, b, x, y, ya, yb, ...parts, ...rows0]);
});

test('center crop uses Python rounding; Resize(int) keeps the aspect with int()', (t) => {
  t.is(roundHalfEven(0.5), 0);
  t.is(roundHalfEven(1.5), 2);
  t.is(roundHalfEven(2.5), 2);
  t.is(roundHalfEven(-0.5), -0);
  t.deepEqual(centerCropOffsets(10, 9, 4, 4), { top: 3, left: 2 }); // (6/2, round(2.5) = 2)
  t.deepEqual(resizeShorterSide(16, 24, 64), [64, 96]);
  t.deepEqual(resizeShorterSide(30, 22, 64), [87, 64]); // int(64·30/22) = int(87.27)
  const x = tf.reshape(tf.range(0, 20), [1, 4, 5, 1]) as tf.Tensor4D;
  const c = centerCrop(x, 2, 2);
  t.deepEqual(Array.from(c.dataSync()), [7, 8, 12, 13]); // top round(1) = 1, left round(1.5) = 2
  tf.dispose([x, c]);
  t.throws(() => centerCropOffsets(3, 3, 4, 4), { message: /larger than the image/ });
});

test('reflect pad bottom/right and replicate pad', (t) => {
  const x = tf.tensor4d([1, 2, 3, 4, 5, 6], [1, 2, 3, 1]);
  const r = reflectPadBottomRight(x, 1, 2);
  t.deepEqual(Array.from(r.dataSync()), [1, 2, 3, 2, 1, 4, 5, 6, 5, 4, 1, 2, 3, 2, 1]);
  const p = replicatePad(x, 2);
  t.deepEqual(p.shape, [1, 6, 7, 1]);
  t.deepEqual(Array.from(p.dataSync()).slice(0, 7), [1, 1, 1, 2, 3, 3, 3]);
  t.deepEqual(Array.from(p.dataSync()).slice(35), [4, 4, 4, 5, 6, 6, 6]);
  t.throws(() => reflectPadBottomRight(x, 2, 0), { message: /smaller than the image/ });
  tf.dispose([x, r, p]);
});
