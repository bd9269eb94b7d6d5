// The reverse SDE and posterior samplers with stand-in denoisers: exact recovery with an oracle, progress, abort,
// injected noise, errors, and no tensor left behind.
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { AbortError, InjectedNoise, SeededNoise } from '@stablesr/core';
import { type IRSDEDenoiseFn, irsdeSchedule, noiseState, optimumStd, realNoise, reversePosteriorJump, reversePosteriorStep, reverseTimesteps, samplePosterior, sampleReverseSde } from '../src/index.js';

const maxAbs = (a: tf.Tensor, b: tf.Tensor): number => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);

/** A denoiser that knows x₀: it returns the true noise of x_t (`get_real_noise`). */
function oracle(x0: tf.Tensor4D, mu: tf.Tensor4D, s: ReturnType<typeof irsdeSchedule>): IRSDEDenoiseFn {
  return (x, t) => realNoise(s, x, x0, mu, t) as tf.Tensor4D;
}

test.serial('posterior sampling with an oracle denoiser ends at x0 (the last step has zero posterior variance)', async (t) => {
  const s = irsdeSchedule({ max_sigma: 30, T: 25, schedule: 'cosine', eps: 0.005 });
  const src = new SeededNoise(3);
  const x0 = tf.clipByValue(src.draw([1, 9, 11, 3]), -1, 1) as tf.Tensor4D;
  const mu = tf.tidy(() => tf.add(x0, tf.mul(src.draw([1, 9, 11, 3]), 0.2))) as tf.Tensor4D;
  const before = tf.memory().numTensors;
  const xT = noiseState(s, mu, src) as tf.Tensor4D;
  const seen: number[] = [];
  const out = await samplePosterior(oracle(x0, mu, s), xT, s, { mu, noise: src, onStep: (e) => void seen.push(e.t) });
  t.deepEqual(seen, Array.from({ length: 25 }, (_, i) => 25 - i));
  t.true(maxAbs(out, x0) < 1e-4, `max |x − x0| ${maxAbs(out, x0)}`);
  tf.dispose([xT, out]);
  t.is(tf.memory().numTensors, before, 'tensors leaked');
  tf.dispose([x0, mu]);
});

test.serial('reverse SDE with an oracle denoiser moves x_T towards x0; same noise, same result; nothing leaks', async (t) => {
  const s = irsdeSchedule({ max_sigma: 10, T: 60, schedule: 'linear', eps: 0.01 });
  const src = new SeededNoise(4);
  const x0 = src.draw([2, 5, 6, 1]) as tf.Tensor4D;
  const mu = tf.zerosLike(x0) as tf.Tensor4D;
  const xT = noiseState(s, mu, src) as tf.Tensor4D;
  const before = tf.memory().numTensors;
  const a = await sampleReverseSde(oracle(x0, mu, s), xT, s, { mu, noise: new SeededNoise(11) });
  const b = await sampleReverseSde(oracle(x0, mu, s), xT, s, { mu, noise: new SeededNoise(11) });
  t.is(maxAbs(a, b), 0);
  // Starting ~|x0| away, Euler–Maruyama with the exact score lands within the discretisation error of x0.
  const start = maxAbs(xT, x0);
  const end = maxAbs(a, x0);
  t.true(end < 0.2 * start, `start ${start}, end ${end}`);
  tf.dispose([a, b]);
  t.is(tf.memory().numTensors, before, 'tensors leaked');
  tf.dispose([x0, mu, xT]);
});

test.serial('abort stops between steps with AbortError and releases everything', async (t) => {
  const s = irsdeSchedule({ max_sigma: 30, T: 10 });
  const mu = tf.zeros([1, 4, 4, 3]) as tf.Tensor4D;
  const xT = tf.ones([1, 4, 4, 3]) as tf.Tensor4D;
  const ac = new AbortController();
  let calls = 0;
  const denoise: IRSDEDenoiseFn = (x) => {
    calls++;
    return tf.mul(x, 0.1) as tf.Tensor4D;
  };
  const before = tf.memory().numTensors;
  await t.throwsAsync(samplePosterior(denoise, xT, s, { mu, noise: new SeededNoise(1), signal: ac.signal, onStep: (e) => void (e.k === 2 && ac.abort()) }), { instanceOf: AbortError });
  t.is(calls, 3);
  t.is(tf.memory().numTensors, before, 'tensors leaked');
  tf.dispose([mu, xT]);
});

test.serial('injected draws are replayed in order; a short supply, a bad denoiser or a missing mu are errors', async (t) => {
  const s = irsdeSchedule({ max_sigma: 30, T: 3 });
  const mu = tf.zeros([1, 2, 2, 1]) as tf.Tensor4D;
  const xT = tf.ones([1, 2, 2, 1]) as tf.Tensor4D;
  const zero: IRSDEDenoiseFn = (x) => tf.zerosLike(x) as tf.Tensor4D;
  const draws = [tf.fill([1, 2, 2, 1], 1), tf.fill([1, 2, 2, 1], 2)];
  const before = tf.memory().numTensors;
  await t.throwsAsync(sampleReverseSde(zero, xT, s, { mu, noise: new InjectedNoise(draws, ['step', 'step']) }), { message: /injected noise exhausted: draw 2 \(step\)/ });
  await t.throwsAsync(sampleReverseSde((x) => x, xT, s, { mu, noise: new SeededNoise(0) }), { message: /returned its input tensor/ });
  await t.throwsAsync(sampleReverseSde((x) => tf.zeros([1, 3, 3, 1]) as tf.Tensor4D, xT, s, { mu, noise: new SeededNoise(0) }), { message: /denoiser output shape \[1,3,3,1\]/ });
  await t.throwsAsync(sampleReverseSde(zero, xT, s, { noise: new SeededNoise(0) } as never), { message: /option "mu"/ });
  t.is(tf.memory().numTensors, before, 'tensors leaked');
  // With a zero noise prediction the reverse SDE step is x − θ_t(μ − x)dt − σ_t√dt·z: check the first step by hand.
  const one = new InjectedNoise([tf.fill([1, 2, 2, 1], 0.5)], ['step']);
  let first: number | undefined;
  const s1 = irsdeSchedule({ max_sigma: 30, T: 1 });
  const out = await sampleReverseSde(zero, xT, s1, { mu, noise: one, onStep: (e) => void (first = e.x.dataSync()[0]) });
  const want = 1 - s1.thetas[1]! * (0 - 1) * s1.dt - s1.sigmas[1]! * Math.sqrt(s1.dt) * 0.5;
  t.true(Math.abs(first! - want) < 1e-6, `${first} vs ${want}`);
  tf.dispose([out, mu, xT, ...draws]);
  one.dispose();
});

test('reverseTimesteps: T first, evenly spaced, every timestep by default; steps outside 1 … T are refused', (t) => {
  t.deepEqual(reverseTimesteps(20, 1), [20]);
  t.deepEqual(reverseTimesteps(20, 2), [20, 10]);
  t.deepEqual(reverseTimesteps(20, 4), [20, 15, 10, 5]);
  t.deepEqual(reverseTimesteps(10, 3), [10, 7, 3]);
  t.deepEqual(reverseTimesteps(5), [5, 4, 3, 2, 1]);
  t.throws(() => reverseTimesteps(20, 21), { message: /option steps must be an integer 1…20 .*got 21/ });
  t.throws(() => reverseTimesteps(20, 0), { message: /got 0/ });
  t.throws(() => reverseTimesteps(20, 2.5), { message: /got 2.5/ });
});

test.serial('a posterior jump over two timesteps is the two single posterior steps composed (mean and variance), given the same x̂₀', (t) => {
  const s = irsdeSchedule({ max_sigma: 30, T: 12, schedule: 'cosine', eps: 0.005 });
  const src = new SeededNoise(8);
  const x0 = src.draw([1, 3, 4, 3]) as tf.Tensor4D;
  const mu = tf.tidy(() => tf.mul(src.draw([1, 3, 4, 3]), 0.5)) as tf.Tensor4D;
  const xt = tf.tidy(() => tf.add(mu, tf.mul(src.draw([1, 3, 4, 3]), 0.1))) as tf.Tensor4D;
  const zero = tf.zerosLike(xt);
  const one = tf.onesLike(xt);
  for (const tt of [12, 7, 3]) {
    // The noise prediction that makes x̂₀ the true x₀ at each visited timestep.
    const eps = (x: tf.Tensor, ti: number): tf.Tensor => realNoise(s, x, x0, mu, ti);
    const composedMean = tf.tidy(() => {
      const mid = reversePosteriorStep(s, xt, mu, eps(xt, tt), tt, zero);
      return reversePosteriorStep(s, mid, mu, eps(mid, tt - 1), tt - 1, zero);
    });
    const jumpMean = reversePosteriorJump(s, xt, mu, eps(xt, tt), tt, tt - 2, zero);
    t.true(maxAbs(jumpMean, composedMean) < 2e-5, `t ${tt}: mean ${maxAbs(jumpMean, composedMean)}`);
    // Variance: the second step carries the first step's draw with its x_t weight, plus its own.
    const std1 = optimumStd(s, tt);
    const std2 = optimumStd(s, tt - 1);
    const [w1] = (() => {
      const probe = tf.tidy(() => tf.sub(reversePosteriorStep(s, one, zero, eps(one, tt - 1), tt - 1, zero), reversePosteriorStep(s, zero, zero, eps(zero, tt - 1), tt - 1, zero)));
      const v = probe.dataSync()[0]!;
      probe.dispose();
      return [v];
    })();
    const composedStd = Math.sqrt(w1! * w1! * std1 * std1 + std2 * std2);
    const jumpStd = tf.tidy(() => tf.sub(reversePosteriorJump(s, xt, mu, eps(xt, tt), tt, tt - 2, one), jumpMean).dataSync()[0]!);
    t.true(Math.abs(jumpStd - composedStd) < 1e-5 * Math.max(1, composedStd) + 1e-6, `t ${tt}: std ${jumpStd} vs ${composedStd}`);
    tf.dispose([composedMean, jumpMean]);
  }
  // To t = 0 the jump returns x̂₀ itself, draw or not.
  const toZero = reversePosteriorJump(s, xt, mu, realNoise(s, xt, x0, mu, 9), 9, 0, one);
  t.true(maxAbs(toZero, x0) < 1e-4);
  t.throws(() => reversePosteriorJump(s, xt, mu, zero, 9, 9, zero), { message: /next timestep 9 must be an integer in 0 … 8/ });
  tf.dispose([x0, mu, xt, zero, one, toZero]);
});

test.serial('posterior sampling with fewer steps visits the respaced timesteps and still ends at x0 with an oracle; the SDE sampler refuses fewer steps', async (t) => {
  const s = irsdeSchedule({ max_sigma: 30, T: 25, schedule: 'cosine', eps: 0.005 });
  const src = new SeededNoise(5);
  const x0 = tf.clipByValue(src.draw([1, 6, 5, 3]), -1, 1) as tf.Tensor4D;
  const mu = tf.tidy(() => tf.add(x0, tf.mul(src.draw([1, 6, 5, 3]), 0.2))) as tf.Tensor4D;
  const xT = noiseState(s, mu, src) as tf.Tensor4D;
  const before = tf.memory().numTensors;
  for (const steps of [1, 3, 8]) {
    const seen: number[] = [];
    let calls = 0;
    const denoise: IRSDEDenoiseFn = (x, tt) => {
      calls++;
      return oracle(x0, mu, s)(x, tt);
    };
    const out = await samplePosterior(denoise, xT, s, { mu, noise: new SeededNoise(1), steps, onStep: (e) => void seen.push(e.t) });
    t.deepEqual(seen, reverseTimesteps(25, steps));
    t.is(calls, steps);
    t.true(maxAbs(out, x0) < 1e-4, `${steps} steps: max |x − x0| ${maxAbs(out, x0)}`);
    out.dispose();
  }
  await t.throwsAsync(sampleReverseSde(oracle(x0, mu, s), xT, s, { mu, noise: new SeededNoise(1), steps: 5 }), { message: /reverse SDE sampler runs every timestep \(T = 25\)/ });
  t.is(tf.memory().numTensors, before, 'tensors leaked');
  tf.dispose([x0, mu, xT]);
});
