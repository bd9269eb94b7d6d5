// irsdeSuperResolve (the shipped SR path) on configurations unlike the fixtures: pixel tiles blended with Gaussian
// weights, option checks, progress, abort and tensor lifetime.
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { type ProgressEvent, SeededNoise, recordWeightRequests, resizeBicubic, resolveEngine, syntheticSource, weightsFromSource } from '@stablesr/core';
import { type ConditionalUNetNetwork, compileConditionalUNet, dihedralEnsemble, disposeConditionalUNet, edmCoefficients, irsdeSchedule, irsdeSuperResolve, loadConditionalUNet } from '../src/index.js';

const schedule = irsdeSchedule({ max_sigma: 10, T: 6, schedule: 'cosine', eps: 0.01 });
const maxAbs = (a: tf.Tensor, b: tf.Tensor): number => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);

/** A stand-in network whose output at a pixel depends only on that pixel (x − μ scaled by t), so blending tiles is exact. */
function pointwiseNet(calls: { shapes: number[][] }): ConditionalUNetNetwork {
  return {
    network: undefined as never,
    run: async (x, mu, t) => {
      calls.shapes.push([...x.shape]);
      return tf.tidy(() => tf.mul(tf.sub(x, mu), 0.3 + 0.01 * (t as number)) as tf.Tensor4D);
    },
  };
}

test.serial('pixel tiles blend back to the untiled result for a position-independent network', async (t) => {
  const lq = tf.tidy(() => tf.sigmoid(new SeededNoise(3).draw([1, 11, 14, 3])) as tf.Tensor4D);
  const whole = { shapes: [] as number[][] };
  const tiles = { shapes: [] as number[][] };
  const a = await irsdeSuperResolve(pointwiseNet(whole), schedule, lq, { seed: 5, tileSize: 1000 });
  const events: ProgressEvent[] = [];
  const b = await irsdeSuperResolve(pointwiseNet(tiles), schedule, lq, { seed: 5, tileSize: 24, tileOverlap: 8, onProgress: (e) => events.push(e) });
  t.deepEqual(a.shape, [1, 44, 56, 3]);
  t.true(whole.shapes.every((s) => s[1] === 44 && s[2] === 56) && whole.shapes.length === schedule.T, 'untiled: one whole-image call per step');
  t.true(tiles.shapes.length > 2 * schedule.T && tiles.shapes.every((s) => s[1]! <= 24 && s[2]! <= 24), 'tiled: several tiles of ≤ 24 px per step');
  t.true(maxAbs(a, b) < 1e-5, `tiled vs untiled ${maxAbs(a, b)}`);
  const range = tf.tidy(() => [tf.min(a).dataSync()[0]!, tf.max(a).dataSync()[0]!]);
  t.true(range[0]! >= 0 && range[1]! <= 1, 'clamped to [0, 1]');
  t.deepEqual(
    events.map((e) => e.done),
    [1, 2, 3, 4, 5, 6],
  );
  tf.dispose([lq, a, b]);
});

test.serial('a real ConditionalUNet in tiles on ONNX Runtime: shape, determinism for a seed, abort, no leak', async (t) => {
  const config = { in_nc: 3, out_nc: 3, nf: 4, depth: 2 };
  const keys = recordWeightRequests((v) => loadConditionalUNet(config, v), disposeConditionalUNet);
  const unet = loadConditionalUNet(config, weightsFromSource(syntheticSource(keys, { seed: 9 })));
  const net = compileConditionalUNet(unet, await resolveEngine({ engine: 'onnxruntime', threads: 1 }));
  const lq = tf.tidy(() => tf.sigmoid(new SeededNoise(4).draw([1, 9, 7, 3])) as tf.Tensor4D);
  try {
    const first = await irsdeSuperResolve(net, schedule, lq, { seed: 1, tileSize: 16, sampler: 'sde' });
    const before = tf.memory().numTensors;
    const again = await irsdeSuperResolve(net, schedule, lq, { seed: 1, tileSize: 16, sampler: 'sde' });
    const other = await irsdeSuperResolve(net, schedule, lq, { seed: 2, tileSize: 16, sampler: 'sde' });
    t.deepEqual(first.shape, [1, 36, 28, 3]);
    t.is(maxAbs(first, again), 0);
    t.true(maxAbs(first, other) > 1e-3, 'another seed gives another result');
    tf.dispose([again, other]);
    t.is(tf.memory().numTensors, before);
    const ac = new AbortController();
    const e = await t.throwsAsync(irsdeSuperResolve(net, schedule, lq, { seed: 1, tileSize: 16, signal: ac.signal, onProgress: (p) => p.done === 2 && ac.abort() }));
    t.is(e?.name, 'AbortError');
    t.is(tf.memory().numTensors, before);
    first.dispose();
  } finally {
    lq.dispose();
    await net.network.dispose();
    disposeConditionalUNet(unet);
  }
});

test.serial('bad options are refused naming the option', async (t) => {
  const lq = tf.zeros([1, 4, 4, 3]) as tf.Tensor4D;
  const net = pointwiseNet({ shapes: [] });
  await t.throwsAsync(irsdeSuperResolve(net, schedule, lq, { scale: 0 }), { message: /option scale/ });
  await t.throwsAsync(irsdeSuperResolve(net, schedule, lq, { tileSize: 16, tileOverlap: 16 }), { message: /option tileOverlap/ });
  await t.throwsAsync(irsdeSuperResolve(net, schedule, lq, { sampler: 'ode' as never }), { message: /option sampler/ });
  const gray = tf.zeros([1, 4, 4, 1]) as tf.Tensor4D;
  await t.throwsAsync(irsdeSuperResolve(net, schedule, gray, {}), { message: /RGB/ });
  gray.dispose();
  lq.dispose();
});

test.serial("residual, x0 and edm parameterisations: a zero network gives μ (bicubic); one predicting the true output recovers x₀, in T steps or fewer", async (t) => {
  const lq = tf.tidy(() => tf.sigmoid(new SeededNoise(4).draw([1, 6, 7, 3])) as tf.Tensor4D);
  const mu = resizeBicubic(lq, 24, 28);
  const x0 = tf.tidy(() => tf.clipByValue(tf.add(mu, tf.mul(new SeededNoise(9).draw([1, 24, 28, 3]), 0.05)), 0, 1) as tf.Tensor4D);
  const zero: ConditionalUNetNetwork = { network: undefined as never, run: async (x) => tf.zerosLike(x) };
  // The network sees μ + z with z = (x_t − μ)/σ̄_t; the residual whose ε̂ = z − r is the exact noise of x_t.
  const oracle: ConditionalUNetNetwork = {
    network: undefined as never,
    run: async (_input, m, ts) => {
      const ti = ts as number;
      return tf.tidy(() => tf.mul(tf.sub(x0, m), Math.exp(-schedule.thetasCumsum[ti]! * schedule.dt) / schedule.sigmaBars[ti]!) as tf.Tensor4D);
    },
  };
  // For x0 the network's output is the detail x₀ − μ itself, at every timestep.
  const detail: ConditionalUNetNetwork = { network: undefined as never, run: async (_input, m) => tf.sub(x0, m) as tf.Tensor4D };
  // For edm the network sees μ + c_in·y (y = x_t − μ) and its output r gives x̂₀ − μ = c_skip·y + c_out·r.
  const edmTruth: ConditionalUNetNetwork = {
    network: undefined as never,
    run: async (input, m, ts) => {
      const { cIn, cSkip, cOut } = edmCoefficients(schedule, ts as number);
      return tf.tidy(() => tf.div(tf.sub(tf.sub(x0, m), tf.mul(tf.div(tf.sub(input, m), cIn), cSkip)), cOut) as tf.Tensor4D);
    },
  };
  for (const [parameterization, truth] of [['residual', oracle], ['x0', detail], ['edm', edmTruth]] as const) {
    // edm's skip term passes a share of x_t's noise through an untrained network, so its zero network is exactly μ
    // only without injected noise.
    const a = await irsdeSuperResolve(zero, schedule, lq, { sampler: 'posterior', seed: 1, parameterization, ...(parameterization === 'edm' && { temperature: 0 }) });
    t.true(maxAbs(a, tf.clipByValue(mu, 0, 1)) < 1e-4, `${parameterization}, zero network: max |out − μ| ${maxAbs(a, mu)}`);
    for (const steps of [schedule.T, 3, 1]) {
      const b = await irsdeSuperResolve(truth, schedule, lq, { sampler: 'posterior', seed: 1, parameterization, steps });
      t.true(maxAbs(b, x0) < 1e-3, `${parameterization}, ${steps} steps, true output: max |out − x₀| ${maxAbs(b, x0)}`);
      b.dispose();
    }
    a.dispose();
  }
  await t.throwsAsync(irsdeSuperResolve(zero, schedule, lq, { parameterization: 'v' as never }), { message: /option parameterization must be one of eps, residual, x0, edm/ });
  await t.throwsAsync(irsdeSuperResolve(zero, schedule, lq, { parameterization: 'x0', sampler: 'sde', steps: 2 }), { message: /option steps 2: the sde sampler runs every timestep/ });
  await t.throwsAsync(irsdeSuperResolve(zero, schedule, lq, { parameterization: 'x0', steps: schedule.T + 1 }), { message: new RegExp(`option steps must be an integer 1…${schedule.T}`) });
  tf.dispose([lq, mu, x0]);
});

test.serial('temperature scales the draws: 0 makes the sampler deterministic (seed-independent); out-of-range is refused', async (t) => {
  const lq = tf.tidy(() => tf.sigmoid(new SeededNoise(5).draw([1, 5, 6, 3])) as tf.Tensor4D);
  const calls = { shapes: [] as number[][] };
  const cold1 = await irsdeSuperResolve(pointwiseNet(calls), schedule, lq, { seed: 1, temperature: 0 });
  const cold2 = await irsdeSuperResolve(pointwiseNet(calls), schedule, lq, { seed: 2, temperature: 0 });
  const warm1 = await irsdeSuperResolve(pointwiseNet(calls), schedule, lq, { seed: 1 });
  const warm2 = await irsdeSuperResolve(pointwiseNet(calls), schedule, lq, { seed: 2 });
  t.is(maxAbs(cold1, cold2), 0, 'temperature 0: no noise enters');
  t.true(maxAbs(warm1, warm2) > 1e-3, 'temperature 1: the seed matters');
  await t.throwsAsync(irsdeSuperResolve(pointwiseNet(calls), schedule, lq, { temperature: 3 }), { message: /option temperature must be a number in \[0, 2\], got 3/ });
  tf.dispose([lq, cold1, cold2, warm1, warm2]);
});

test.serial('self-ensemble: a network that commutes with flips and transposes is unchanged; any other is averaged over the 8 symmetries; nothing leaks', async (t) => {
  const lq = tf.tidy(() => tf.sigmoid(new SeededNoise(6).draw([1, 5, 7, 3])) as tf.Tensor4D);
  const calls = { shapes: [] as number[][] };
  const plain = await irsdeSuperResolve(pointwiseNet(calls), schedule, lq, { seed: 2 });
  const before = tf.memory().numTensors;
  const ens = await irsdeSuperResolve(pointwiseNet(calls), schedule, lq, { seed: 2, selfEnsemble: true });
  t.true(maxAbs(plain, ens) < 1e-5, `pointwise network: ${maxAbs(plain, ens)}`);
  t.deepEqual(calls.shapes.slice(-16).map((s) => `${s[1]}×${s[2]}`), Array.from({ length: 2 }, () => ['20×28', '20×28', '20×28', '20×28', '28×20', '28×20', '28×20', '28×20']).flat(), 'eight calls a step, half of them transposed');
  // A network that is not symmetric: it outputs the row index (a vertical ramp). Its average over the 8 symmetries is
  // (row ramp + flipped row ramp + column ramp + flipped column ramp)/4 per pixel: (H − 1)/2·½ + (W − 1)/2·½.
  const ramp = (calls2: number[][]) => ({ network: undefined as never, run: async (x: tf.Tensor4D) => { calls2.push([...x.shape]); const [b, h, w, c] = x.shape; return tf.tidy(() => tf.tile(tf.reshape(tf.range(0, h), [1, h, 1, 1]), [b, 1, w, c])) as tf.Tensor4D; } });
  const ensembled = dihedralEnsemble((x, m, tt) => ramp([]).run(x));
  const x = tf.zeros([1, 4, 6, 2]) as tf.Tensor4D;
  const avg = await ensembled(x, x, 1);
  const expected = (4 - 1) / 4 + (6 - 1) / 4;
  t.true(tf.tidy(() => tf.max(tf.abs(tf.sub(avg, expected))).dataSync()[0]!) < 1e-6, 'mean of row and column ramps, both directions');
  tf.dispose([avg, x, ens]);
  t.is(tf.memory().numTensors, before, 'tensors leaked');
  tf.dispose([lq, plain]);
});
