import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { HOST_WEIGHTS_AUTO_BYTES, buildOnHost, float32Bytes, hasHostWeights, initBackend, moveWeightsToHost, weightsOnHost, withWeights, withWeightsAsync } from '@stablesr/core';

test.before(async () => {
  await initBackend();
});

/** A module tree with tensors in objects, arrays and Maps, one of them shared by two parents. */
function toyModule() {
  const shared = tf.tensor1d([5, 6, 7]);
  return {
    kernel: tf.tensor2d([1, 2, 3, 4], [2, 2]),
    ids: tf.tensor1d([3, 1], 'int32'),
    blocks: [{ w: tf.tensor1d([0.5, -0.25]), shared }, { b: tf.scalar(2), shared }] as [{ w: tf.Tensor1D; shared: tf.Tensor1D }, { b: tf.Scalar; shared: tf.Tensor1D }],
    byName: new Map<string, tf.Tensor>([['m', tf.tensor1d([9, 8])]]),
    size: 2,
  };
}

/** x·kernel + Σw + b + Σ(m + Σshared): touches every float tensor of the toy module. */
function forward(m: ReturnType<typeof toyModule>, x: tf.Tensor2D): number[] {
  const y = tf.tidy(() => {
    const offset = tf.add(tf.add(tf.sum(m.blocks[0].w), m.blocks[1].b), tf.sum(tf.add(m.byName.get('m')!, tf.sum(m.blocks[1].shared))));
    return tf.add(tf.matMul(x, m.kernel), offset);
  });
  const d = Array.from(y.dataSync());
  y.dispose();
  return d;
}

test.serial('weights moved to the host come back for the call only, with the same values, and leak nothing', (t) => {
  const m = toyModule();
  const x = tf.tensor2d([1, -1, 2, 0.5], [2, 2]);
  const expected = forward(m, x);
  const before = tf.memory().numTensors;
  const bytes = moveWeightsToHost(m);
  t.is(bytes, 4 * (4 + 2 + 2 + 3 + 1 + 2), 'the shared tensor counts once');
  t.is(tf.memory().numTensors, before - 6);
  t.true(hasHostWeights(m));
  // Placeholders keep shape and dtype but cannot be computed with.
  t.deepEqual(m.kernel.shape, [2, 2]);
  t.is(m.ids.dtype, 'int32');
  t.throws(() => forward(m, x));
  t.is(tf.memory().numTensors, before - 6);
  for (let i = 0; i < 2; i++) {
    t.deepEqual(
      withWeights(m, () => forward(m, x)),
      expected,
    );
    t.deepEqual(Array.from(withWeights(m, () => m.ids.dataSync())), [3, 1]);
    t.is(tf.memory().numTensors, before - 6);
  }
  // A failing call frees what it uploaded too; a nested call on a part leaves it to the outer one.
  t.throws(() => withWeights(m, () => { throw new Error('boom'); }), { message: 'boom' });
  t.is(tf.memory().numTensors, before - 6);
  withWeights(m, () => {
    withWeights(m.blocks[0], () => t.deepEqual(Array.from(m.blocks[0].w.dataSync()), [0.5, -0.25]));
    t.false(m.blocks[0].w.isDisposed, 'the inner call must not free what the outer one uploaded');
  });
  t.true(m.kernel.isDisposed);
  t.is(tf.memory().numTensors, before - 6);
  x.dispose();
});

test.serial('a module without host weights runs as it is', (t) => {
  const m = toyModule();
  const x = tf.tensor2d([1, 2, 3, 4], [2, 2]);
  const kernel = m.kernel;
  t.false(hasHostWeights(m));
  t.deepEqual(withWeights(m, () => forward(m, x)), forward(m, x));
  t.is(m.kernel, kernel);
  tf.dispose([x, m.kernel, m.ids, m.blocks[0].w, m.blocks[0].shared, m.blocks[1].b, m.byName.get('m')!]);
});

test.serial('buildOnHost builds on the cpu backend, leaves nothing on the active one and restores it', async (t) => {
  const active = tf.getBackend();
  const before = tf.memory().numTensors;
  let builtOn = '';
  const m = await buildOnHost(() => {
    builtOn = tf.getBackend();
    return toyModule();
  });
  t.is(builtOn, 'cpu');
  t.is(tf.getBackend(), active);
  t.is(tf.memory().numTensors, before);
  const x = tf.tensor2d([1, 0, 0, 1], [2, 2]);
  // [1 0; 0 1]·K + (0.25 + 2 + Σ([9, 8] + 18)) = K + 55.25
  t.deepEqual(withWeights(m, () => forward(m, x)), [56.25, 57.25, 58.25, 59.25]);
  x.dispose();
  t.is(tf.memory().numTensors, before);
});

test('weight placement: host, backend, or auto by size on wasm only; unknown values are errors', (t) => {
  t.true(weightsOnHost('host', 1));
  t.false(weightsOnHost('backend', 10 * HOST_WEIGHTS_AUTO_BYTES));
  t.false(weightsOnHost('auto', HOST_WEIGHTS_AUTO_BYTES));
  t.is(weightsOnHost(undefined, HOST_WEIGHTS_AUTO_BYTES + 1), tf.getBackend() === 'wasm');
  t.throws(() => weightsOnHost('gpu' as never, 1), { message: /auto, backend or host, got "gpu"/ });
  t.is(float32Bytes({ keys: () => ['a', 'b'], shapeOf: (k) => (k === 'a' ? [2, 3] : [5]) }), 44);
});

test.serial('overlapping asynchronous calls share one upload; the last one out frees it', async (t) => {
  const m = toyModule();
  const x = tf.tensor2d([1, 0, 0, 1], [2, 2]);
  const expected = forward(m, x);
  moveWeightsToHost(m);
  const before = tf.memory().numTensors;
  let releaseFirst!: () => void;
  const gate = new Promise<void>((r) => (releaseFirst = r));
  const first = withWeightsAsync(m, async () => {
    await gate;
    return forward(m, x);
  });
  const uploaded = tf.memory().numTensors;
  t.true(uploaded > before);
  // The second call starts while the first holds the weights and ends before it: nothing is uploaded twice or freed early.
  const second = await withWeightsAsync(m, async () => forward(m, x));
  t.deepEqual(second, expected);
  t.is(tf.memory().numTensors, uploaded);
  releaseFirst();
  t.deepEqual(await first, expected);
  t.is(tf.memory().numTensors, before);
  await t.throwsAsync(withWeightsAsync(m, async () => Promise.reject(new Error('late failure'))), { message: 'late failure' });
  t.is(tf.memory().numTensors, before);
  x.dispose();
});
