import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { registerFixtureTests } from '../../../test/fixtureSuite.js';
import { colorFixKind } from '../src/parity/colorFixKind.js';
import { adainColorFix, applyColorFix, waveletColorFix, waveletDecomposition } from '../src/index.js';

registerFixtureTests({ colorfix: colorFixKind });

test('wavelet: a constant image is all low frequency; high + low reconstructs the image', (t) => {
  const x = tf.randomNormal([1, 9, 13, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
  const c = tf.fill([1, 9, 13, 3], 0.25) as tf.Tensor4D;
  const { high, low } = waveletDecomposition(x);
  const rec = tf.add(high, low);
  t.true(tf.max(tf.abs(tf.sub(rec, x))).dataSync()[0]! < 1e-5);
  const dc = waveletDecomposition(c);
  t.true(tf.max(tf.abs(dc.high)).dataSync()[0]! < 1e-6);
  t.true(tf.max(tf.abs(tf.sub(dc.low, 0.25))).dataSync()[0]! < 1e-6);
  tf.dispose([x, c, high, low, rec, dc.high, dc.low]);
});

test('adain: output has the style statistics (unbiased variance + eps)', (t) => {
  const content = tf.randomNormal([1, 6, 7, 3], 2, 3, 'float32', 1) as tf.Tensor4D;
  const style = tf.randomNormal([1, 6, 7, 3], -1, 0.5, 'float32', 2) as tf.Tensor4D;
  const y = adainColorFix(content, style);
  const n = 42;
  const ms = tf.moments(style, [1, 2]);
  const my = tf.moments(y, [1, 2]);
  const ds = ms.variance.dataSync();
  const dy = my.variance.dataSync();
  const mean = tf.max(tf.abs(tf.sub(ms.mean, my.mean))).dataSync()[0]!;
  t.true(mean < 1e-5);
  for (let i = 0; i < 3; i++) {
    // y std = std_s · std_c_biased·… : with eps, var_y·n/(n−1) = (var_s·n/(n−1)+eps)·v_c/(v_c+eps)
    const vc = tf.moments(content, [1, 2]).variance.dataSync()[i]! * (n / (n - 1));
    const expected = ((ds[i]! * n) / (n - 1) + 1e-5) * (vc / (vc + 1e-5));
    t.true(Math.abs((dy[i]! * n) / (n - 1) - expected) < 1e-4 * expected, `channel ${i}`);
  }
  tf.dispose([content, style, y, ms.mean, ms.variance, my.mean, my.variance]);
});

test.serial('colour fixes do not leak tensors', (t) => {
  const a = tf.randomNormal([1, 20, 24, 3]) as tf.Tensor4D;
  const b = tf.randomNormal([1, 20, 24, 3]) as tf.Tensor4D;
  const before = tf.memory().numTensors;
  for (const k of ['wavelet', 'adain', 'none'] as const) applyColorFix(k, a, b).dispose();
  waveletColorFix(a, b, 3).dispose();
  t.is(tf.memory().numTensors, before);
  t.throws(() => applyColorFix('bogus' as never, a, b), { message: /unknown colour fix "bogus"/ });
  t.throws(() => waveletColorFix(a, tf.zeros([1, 4, 4, 3]) as tf.Tensor4D), { message: /same shape/ });
  tf.dispose([a, b]);
});
