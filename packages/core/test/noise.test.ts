import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { InjectedNoise, SeededNoise } from '@stablesr/core';

test('seeded noise is reproducible and standard normal', (t) => {
  const a = new SeededNoise(42).normals(200000);
  const b = new SeededNoise(42).normals(200000);
  t.deepEqual(a.subarray(0, 16), b.subarray(0, 16));
  const c = new SeededNoise(43).normals(16);
  t.notDeepEqual(a.subarray(0, 16), c);
  let sum = 0;
  let sumSq = 0;
  for (const v of a) {
    sum += v;
    sumSq += v * v;
  }
  const mean = sum / a.length;
  const std = Math.sqrt(sumSq / a.length - mean * mean);
  t.true(Math.abs(mean) < 0.01, `mean ${mean}`);
  t.true(Math.abs(std - 1) < 0.01, `std ${std}`);
});

test('seeded draws continue the stream (draw order matters, not call count)', (t) => {
  const g = new SeededNoise(7);
  const x = g.draw([2, 3]);
  const y = g.draw([4]);
  const all = new SeededNoise(7).normals(10);
  t.deepEqual([...x.dataSync(), ...y.dataSync()], [...all]);
  tf.dispose([x, y]);
});

test('injected noise replays in order, checks shapes and labels', (t) => {
  const a = tf.tensor([1, 2]);
  const b = tf.tensor([[3]]);
  const n = new InjectedNoise([a, b], ['posterior', 'x_T']);
  const before = tf.memory().numTensors;
  const d0 = n.draw([2], 'posterior');
  t.deepEqual([...d0.dataSync()], [1, 2]);
  t.throws(() => n.draw([2, 2], 'x_T'), { message: /injected noise 1 \(x_T\): shape \[1,1\] does not match the requested \[2,2\]/ });
  t.throws(() => n.draw([1, 1], 'step'), { message: /recorded as "x_T" but drawn as "step"/ });
  const d1 = n.draw([1, 1], 'x_T');
  t.throws(() => n.draw([1]), { message: /exhausted: draw 2/ });
  tf.dispose([d0, d1]);
  t.is(tf.memory().numTensors, before);
  tf.dispose([a, b]);
});

test('seed must be finite', (t) => {
  t.throws(() => new SeededNoise(Number.NaN), { message: /seed must be a finite number/ });
});
