import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { attentionChunkRows, multiHeadAttention, scaledDotProductAttention } from '@stablesr/core';

// Reference: the einops formulation of CrossAttention, `(b h) n d` with batched matMuls.
function naive(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, heads: number): tf.Tensor3D {
  return tf.tidy(() => {
    const split = (t: tf.Tensor3D): tf.Tensor3D => {
      const [b, n, c] = t.shape;
      return tf.reshape(tf.transpose(tf.reshape(t, [b, n, heads, c / heads]), [0, 2, 1, 3]), [b * heads, n, c / heads]);
    };
    const o = scaledDotProductAttention(split(q), split(k), split(v));
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
