import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { attentionChunkRows, multiHeadAttention } from '@stablesr/core';

// Reference: the einops formulation of CrossAttention, `(b h) n d` with batched matMuls (scores scaled, not q).
function naive(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, heads: number, mask?: tf.Tensor2D): tf.Tensor3D {
  return tf.tidy(() => {
    const split = (t: tf.Tensor3D): tf.Tensor3D => {
      const [b, n, c] = t.shape;
      return tf.reshape(tf.transpose(tf.reshape(t, [b, n, heads, c / heads]), [0, 2, 1, 3]), [b * heads, n, c / heads]);
    };
    let scores = tf.mul(tf.matMul(split(q), split(k), false, true), 1 / Math.sqrt(q.shape[2] / heads));
    if (mask) scores = tf.add(scores, mask);
    const o = tf.matMul(tf.softmax(scores), split(v)) as tf.Tensor3D;
    const [bh, n, d] = o.shape;
    return tf.reshape(tf.transpose(tf.reshape(o, [bh / heads, heads, n, d]), [0, 2, 1, 3]), [bh / heads, n, heads * d]);
  });
}

test('multiHeadAttention matches the batched formulation, chunked or not, cross-attention included', (t) => {
  const q = tf.randomNormal([2, 37, 24], 0, 1, 'float32', 1) as tf.Tensor3D;
  const k = tf.randomNormal([2, 11, 24], 0, 1, 'float32', 2) as tf.Tensor3D;
  const v = tf.randomNormal([2, 11, 18], 0, 1, 'float32', 3) as tf.Tensor3D;
  const before = tf.memory().numTensors;
  const want = naive(q, k, v, 3);
  for (const budget of [undefined, 4 * 11 * 5]) {
    const got = multiHeadAttention(q, k, v, 3, budget ? { scoreBudgetBytes: budget } : {});
    t.deepEqual(got.shape, [2, 37, 18]);
    const m = tf.tidy(() => tf.max(tf.abs(tf.sub(got, want))));
    const diff = m.dataSync()[0]!;
    m.dispose();
    t.true(diff < 1e-5, `budget ${budget}: max diff ${diff}`);
    got.dispose();
  }
  want.dispose();
  t.is(tf.memory().numTensors, before);
  tf.dispose([q, k, v]);
});

test('multiHeadAttention adds a mask to the scores, chunked or not', (t) => {
  const q = tf.randomNormal([2, 9, 12], 0, 1, 'float32', 4) as tf.Tensor3D;
  const v = tf.randomNormal([2, 9, 6], 0, 1, 'float32', 5) as tf.Tensor3D;
  const causal = tf.tensor2d(Array.from({ length: 81 }, (_, i) => (i % 9 > Math.floor(i / 9) ? -Infinity : 0)), [9, 9]);
  const before = tf.memory().numTensors;
  const want = naive(q, q, v, 2, causal);
  for (const budget of [undefined, 4 * 9 * 4]) {
    const got = multiHeadAttention(q, q, v, 2, { mask: causal, ...(budget ? { scoreBudgetBytes: budget } : {}) });
    const m = tf.tidy(() => tf.max(tf.abs(tf.sub(got, want))));
    const diff = m.dataSync()[0]!;
    m.dispose();
    t.true(diff < 1e-5, `budget ${budget}: max diff ${diff}`);
    // Row 0 sees only key 0: its output is v's first row.
    const row0 = tf.tidy(() => tf.max(tf.abs(tf.sub(tf.slice(got, [0, 0, 0], [2, 1, 6]), tf.slice(v, [0, 0, 0], [2, 1, 6])))));
    t.true(row0.dataSync()[0]! < 1e-6);
    row0.dispose();
    got.dispose();
  }
  want.dispose();
  t.is(tf.memory().numTensors, before);
  const bad = tf.zeros([3, 9]) as tf.Tensor2D;
  t.throws(() => multiHeadAttention(q, q, v, 2, { mask: bad }), { message: /mask shape \[3,9\]/ });
  tf.dispose([q, v, causal, bad]);
});

test('attention chunk size is derived from the byte budget', (t) => {
  // 128×128 latent self-attention: 16384 keys; 64 MiB of float32 scores = 1024 query rows.
  t.is(attentionChunkRows(16384, 16384, 64 * 2 ** 20), 1024);
  t.is(attentionChunkRows(100, 77), 100);
  t.is(attentionChunkRows(100, 1e9, 1), 1);
});

test('multiHeadAttention rejects widths that do not split into heads', (t) => {
  const q = tf.zeros([1, 4, 10]) as tf.Tensor3D;
  t.throws(() => multiHeadAttention(q, q, q, 3), { message: /do not split into 3 heads/ });
  q.dispose();
});
