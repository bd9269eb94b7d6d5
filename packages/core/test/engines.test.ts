import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import {
  type Conv2d,
  type GroupNorm,
  type LayerNorm,
  type Linear,
  type Ops,
  EngineUnavailableError,
  compileNetwork,
  moveWeightsToHost,
  resolveEngine,
} from '@stablesr/core';

// Every op of the interface, composed into one small network, evaluated by both engines on the same weights.

let seed = 1;
function rand(shape: number[], scale = 0.3): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    data[i] = (seed / 2 ** 31 - 0.5) * 2 * scale;
  }
  return tf.tensor(data, shape);
}
const conv = (ci: number, co: number, k: number, stride = 1, padding: Conv2d['padding'] = Math.floor(k / 2)): Conv2d => ({
  inChannels: ci,
  outChannels: co,
  kernelSize: k,
  stride,
  padding,
  dilation: 1,
  weight: rand([k, k, ci, co]) as tf.Tensor4D,
  bias: rand([co]) as tf.Tensor1D,
});
const norm = (c: number, groups: number): GroupNorm => ({ groups, channels: c, eps: 1e-5, gamma: tf.add(rand([c]), 1) as tf.Tensor1D, beta: rand([c]) as tf.Tensor1D });
const lin = (i: number, o: number, bias = true): Linear => ({ inFeatures: i, outFeatures: o, weight: rand([i, o]) as tf.Tensor2D, bias: bias ? (rand([o]) as tf.Tensor1D) : undefined });
const ln = (d: number): LayerNorm => ({ dim: d, eps: 1e-5, gamma: tf.add(rand([d]), 1) as tf.Tensor1D, beta: rand([d]) as tf.Tensor1D });

function makeModule() {
  return {
    c1: conv(3, 16, 3),
    down: conv(16, 16, 3, 2, [[0, 1], [0, 1]]),
    gn: norm(16, 4),
    q: lin(16, 16, false),
    k: lin(16, 16, false),
    v: lin(16, 16, false),
    ln: ln(16),
    emb: lin(8, 16),
    ff: lin(16, 32),
    c2: conv(32, 8, 1),
    table: rand([10, 16]) as tf.Tensor2D,
    positions: rand([3, 16]),
  };
}
type M = ReturnType<typeof makeModule>;

function forward<T>(ops: Ops<T>, m: M, [x, vec, ids]: readonly T[]): T[] {
  return ops.scope(() => {
    let h = ops.silu(ops.groupNorm(m.gn, ops.conv2d(m.c1, x!)));
    h = ops.conv2d(m.down, h); // [1, 4, 5, 16] from 8×10
    const e = ops.linear(m.emb, ops.silu(vec!));
    h = ops.mulVector(ops.addVector(h, e), ops.addScalar(ops.scale(e, 0.5), 1));
    const [hh, ww] = [ops.shape(h)[1]!, ops.shape(h)[2]!];
    const t = ops.toTokens(h);
    const n = ops.layerNorm(m.ln, t);
    const att = ops.attention(ops.linear(m.q, n), ops.linear(m.k, n), ops.linear(m.v, n), { heads: 2, scale: 0.25, scoreBudgetBytes: 4 * 2 * 2 * 20 * 7 });
    const causal = ops.attention(n, n, n, { heads: 4, scale: 0.5, causal: true });
    const linAtt = ops.linearAttention(ops.linear(m.q, n), ops.linear(m.k, n), ops.scale(ops.linear(m.v, n), 0.2), { heads: 2, scale: 0.35 });
    const [a, b] = ops.split(ops.linear(m.ff, ops.add(ops.add(att, causal), linAtt)), 2);
    const [g0, g1] = ops.split(ops.concat([a!, b!]), 2, 4);
    const mixed = ops.add(ops.mul(a!, ops.gelu(b!)), ops.sub(ops.quickGelu(g0!), g1!));
    const map = ops.fromTokens(mixed, hh, ww);
    // Reflect-pad unevenly, LayerNorm over a map's channels, crop back at an offset.
    const framed = ops.crop(ops.layerNorm(m.ln, ops.reflectPad(map, [[1, 3], [2, 0]])), 2, 1, hh, ww);
    const up = ops.upsampleNearest2x(ops.relu(ops.add(map, framed)));
    const pooled = ops.avgPool2x(ops.leakyRelu(up, 0.2));
    const resized = ops.resizeNearest(pooled, 7, 3);
    const out = ops.conv2d(m.c2, ops.concat([resized, ops.resizeNearest(ops.leakyRelu(map, 0.1), 7, 3)]));
    const tokens = ops.add(ops.embedding(m.table, ids!), ops.weight(m.positions));
    return [out, tokens];
  });
}

async function bothEngines(t: import('ava').ExecutionContext, m: M) {
  const x = rand([1, 8, 10, 3], 1);
  const vec = rand([1, 8], 1);
  const ids = tf.tensor2d([[1, 9, 4]], [1, 3], 'int32');
  const def = { name: 'test net', module: m, uploadWhole: true, dtypes: ['float32', 'float32', 'int32'] as const, forward: <T>(ops: Ops<T>, inputs: readonly T[]) => forward(ops, m, inputs) };
  const tfjs = compileNetwork(def, await resolveEngine({ engine: 'tfjs' }));
  const ort = compileNetwork(def, await resolveEngine({ engine: 'onnxruntime', threads: 1 }));
  const want = await tfjs.run([x, vec, ids]);
  const got = await ort.run([x, vec, ids]);
  t.is(got.length, 2);
  for (let i = 0; i < want.length; i++) {
    t.deepEqual(got[i]!.shape, want[i]!.shape);
    const diff = tf.max(tf.abs(tf.sub(got[i]!, want[i]!))).dataSync()[0]!;
    const mag = tf.max(tf.abs(want[i]!)).dataSync()[0]!;
    t.true(diff <= 1e-5 * Math.max(1, mag), `output ${i}: max |Δ| ${diff} (max |y| ${mag})`);
  }
  // A second call with the same shapes reuses the session and gives the same numbers.
  const again = await ort.run([x, vec, ids]);
  t.is(tf.max(tf.abs(tf.sub(again[0]!, got[0]!))).dataSync()[0], 0);
  tf.dispose([x, vec, ids, ...want, ...got, ...again]);
  await ort.dispose();
}

test('onnxruntime and tfjs give the same numbers for every op of the interface', async (t) => {
  await bothEngines(t, makeModule());
});

test('the ONNX graph reads weights kept on the host', async (t) => {
  const m = makeModule();
  moveWeightsToHost(m);
  await bothEngines(t, m);
});

test('the event loop keeps turning while ONNX Runtime computes', async (t) => {
  const c = conv(64, 64, 3);
  const def = {
    name: 'busy',
    module: c,
    forward: <T>(ops: Ops<T>, [x]: readonly T[]) => {
      let h: T = x!;
      for (let i = 0; i < 30; i++) h = ops.conv2d(c, h);
      return [h];
    },
  };
  const net = compileNetwork(def, await resolveEngine({ engine: 'onnxruntime', threads: 1 }));
  const x = rand([1, 96, 96, 64]);
  await net.run([x]).then(tf.dispose); // session built outside the measured run
  let worst = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 5);
  const t0 = performance.now();
  tf.dispose(await net.run([x]));
  const ran = performance.now() - t0;
  clearInterval(timer);
  t.true(ran > 100, `the run is long enough to tell (${ran.toFixed(0)} ms)`);
  t.true(worst < 100, `longest event-loop gap ${worst.toFixed(0)} ms during a ${ran.toFixed(0)} ms run`);
  x.dispose();
  await net.dispose();
});

test('a forced device that cannot start is an error naming it, never a fallback', async (t) => {
  const e = await t.throwsAsync(resolveEngine({ engine: 'onnxruntime', device: 'cuda' }), { instanceOf: EngineUnavailableError });
  t.regex(e!.message, /--device cuda/);
  await t.throwsAsync(resolveEngine({ engine: 'tfjs', device: 'cuda' }), { instanceOf: EngineUnavailableError });
  await t.throwsAsync(resolveEngine({ threads: 0 }), { message: /threads/ });
});

test('a graph ONNX Runtime rejects names the network', async (t) => {
  const bad = { inChannels: 3, outChannels: 4, kernelSize: 3, stride: 1, padding: 1, dilation: 1, weight: rand([3, 3, 5, 4]) as tf.Tensor4D, bias: undefined } satisfies Conv2d;
  const net = compileNetwork({ name: 'broken net', module: bad, forward: <T>(ops: Ops<T>, [x]: readonly T[]) => [ops.conv2d(bad, x!)] }, await resolveEngine({ engine: 'onnxruntime', threads: 1 }));
  const x = rand([1, 4, 4, 3]);
  await t.throwsAsync(net.run([x]), { message: /broken net/ });
  x.dispose();
});

test('runs of different input shapes in flight at once each get a live session (one replaced mid-run is released after it)', async (t) => {
  const c = conv(3, 4, 3);
  const def = { name: 'two shapes', module: c, forward: <T>(ops: Ops<T>, [x]: readonly T[]) => [ops.silu(ops.conv2d(c, x!))] };
  const ort = compileNetwork(def, await resolveEngine({ engine: 'onnxruntime', threads: 1 }));
  const tfjs = compileNetwork(def, await resolveEngine({ engine: 'tfjs' }));
  const inputs = [rand([1, 8, 8, 3], 1), rand([1, 12, 10, 3], 1)];
  // Alternating shapes, all started before any finishes: every call replaces the session another call may still use.
  const outs = await Promise.all(Array.from({ length: 6 }, (_, i) => ort.run([inputs[i % 2]!])));
  for (const [i, [o]] of outs.entries()) {
    const [want] = await tfjs.run([inputs[i % 2]!]);
    t.deepEqual(o!.shape, want!.shape);
    t.true(tf.max(tf.abs(tf.sub(o!, want!))).dataSync()[0]! < 1e-5, `call ${i}`);
    tf.dispose([o!, want!]);
  }
  tf.dispose(inputs);
  await ort.dispose();
});
