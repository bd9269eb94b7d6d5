// Samplers on an analytic case: Gaussian data, whose exact denoiser and exact probability-flow map are known.
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { AbortError, type NoiseSource, SeededNoise } from '@stablesr/core';
import { type StepSchedule, ddimSchedule, registerSchedule, respaceSchedule, spaceTimesteps } from '../src/schedule/index.js';
import {
  type Parameterization,
  type SamplerName,
  type StepResult,
  ddimStep,
  ddpmStep,
  dpmSolverPP2MStep,
  getSampler,
  sampleDdim,
  sampleDdpm,
  sampleDpmSolverPP2M,
  samplerNames,
} from '../src/samplers/index.js';
import { type GaussianData, channelStats, distributionProblems, gaussianDenoiser, marginalSample } from './gaussianData.js';

const full = registerSchedule();
const data: GaussianData = { mu: [1.5, -0.7, 0, 3], s: [0.8, 2, 1, 1.5] };
const params: Parameterization[] = ['eps', 'v'];

/** ᾱ the registry's sampler starts from and lands on (DDIM ends on ᾱ[0]; the k-diffusion style solvers and DDPM's last posterior mean on x₀). */
function endpoints(name: SamplerName, steps: number): { aT: number; aEnd: number } {
  const ts = getSampler(name).timesteps(full, steps);
  return { aT: Math.fround(full.alphasCumprod[ts[ts.length - 1]!]!), aEnd: name === 'ddim' ? Math.fround(full.alphasCumprod[0]!) : 1 };
}

async function runRegistry(name: SamplerName, steps: number, param: Parameterization, opts: { eta?: number; tamper?: (x0: tf.Tensor) => tf.Tensor; samplerParam?: Parameterization } = {}) {
  const { aT, aEnd } = endpoints(name, steps);
  const noise = new SeededNoise(7);
  const xT = marginalSample(data, aT, 128, 128, noise);
  const out = await getSampler(name).sample(gaussianDenoiser(data, full, param, opts.tamper), xT, full, steps, {
    parameterization: opts.samplerParam ?? param,
    noise,
    eta: opts.eta,
  });
  const stats = channelStats(out);
  tf.dispose([xT, out]);
  return { stats, aEnd };
}

// Stochastic samplers are first order in the step size on this schedule (std shrinks ~15 % at 25 steps,
// ~3 % at 200); the deterministic ones reach a few percent with 50 steps (25 for DPM-Solver++ within 8 %).
const cases: { name: SamplerName; steps: number; eta?: number; stdTol: number }[] = [
  { name: 'ddpm', steps: 200, stdTol: 0.04 },
  { name: 'ddim', steps: 200, eta: 1, stdTol: 0.04 },
  { name: 'euler-a', steps: 200, stdTol: 0.04 },
  { name: 'ddim', steps: 50, eta: 0, stdTol: 0.04 },
  { name: 'dpmpp-2m', steps: 50, stdTol: 0.03 },
  { name: 'dpmpp-2m', steps: 25, stdTol: 0.08 },
];

for (const c of cases) {
  for (const param of params) {
    test(`${c.name}${c.eta !== undefined ? ` η=${c.eta}` : ''} (${param}, ${c.steps} steps) samples the data distribution`, async (t) => {
      const { stats, aEnd } = await runRegistry(c.name, c.steps, param, { eta: c.eta });
      t.log('mean', stats.mean.map((m) => m.toFixed(3)).join(' '), 'std', stats.std.map((m) => m.toFixed(3)).join(' '));
      t.deepEqual(distributionProblems(stats, data, aEnd, 0.03, c.stdTol), []);
    });
  }
}

// The same checks must fail for a broken denoiser or a mismatched parameterization.
for (const name of samplerNames) {
  test(`${name}: the distribution check catches a sign error and a parameterization mix-up`, async (t) => {
    const steps = name === 'dpmpp-2m' ? 25 : 50;
    // Sign error in the posterior-mean slope: x̂₀ = 2μ − E[x₀|x_t].
    const flipped = await runRegistry(name, steps, 'eps', { tamper: (x0) => tf.sub(tf.mul(tf.tensor1d(data.mu), 2), x0) });
    t.notDeepEqual(distributionProblems(flipped.stats, data, flipped.aEnd, 0.03, 0.08), []);
    const mixed = await runRegistry(name, steps, 'v', { samplerParam: 'eps' });
    t.notDeepEqual(distributionProblems(mixed.stats, data, mixed.aEnd, 0.03, 0.08), []);
  });
}

/**
 * K positions uniform in λ = ½·log(ᾱ/(1−ᾱ)) between ᾱ[999] and ᾱ[0] (the variable DPM-Solver steps in),
 * landing on ᾱ[0]; the test denoiser reads ᾱ by position, so no rounding to integer timesteps blurs the order.
 */
function uniformLambdaSchedule(K: number): StepSchedule {
  const lam = (a: number) => 0.5 * Math.log(a / (1 - a));
  const alphaOfLambda = (l: number) => 1 / (1 + Math.exp(-2 * l));
  const lT = lam(Math.fround(full.alphasCumprod[999]!));
  const l0 = lam(Math.fround(full.alphasCumprod[0]!));
  const at = (j: number) => alphaOfLambda(l0 + ((lT - l0) * j) / K); // j = 0 … K
  return {
    timesteps: Array.from({ length: K }, (_, j) => j),
    alphas: Float64Array.from({ length: K }, (_, j) => at(j + 1)),
    alphasPrev: Float64Array.from({ length: K }, (_, j) => at(j)),
  };
}

/** Exact probability-flow map for Gaussian data from ᾱ = aT to ᾱ = a0: standardised values are kept. */
function exactFlow(xT: tf.Tensor4D, aT: number, a0: number): tf.Tensor4D {
  return tf.tidy(() => {
    const mu = tf.tensor1d(data.mu);
    const sT = tf.tensor1d(data.s.map((s) => Math.sqrt(aT * s * s + 1 - aT)));
    const s0 = tf.tensor1d(data.s.map((s) => Math.sqrt(a0 * s * s + 1 - a0)));
    return tf.add(tf.mul(mu, Math.sqrt(a0)), tf.mul(tf.div(tf.sub(xT, tf.mul(mu, Math.sqrt(aT))), sT), s0)) as tf.Tensor4D;
  });
}

test('deterministic solvers converge to the exact flow with their order: DDIM first, DPM-Solver++(2M) second', async (t) => {
  const noise = new SeededNoise(3);
  const aT = Math.fround(full.alphasCumprod[999]!);
  const a0 = Math.fround(full.alphasCumprod[0]!);
  const xT = marginalSample(data, aT, 16, 16, noise);
  const exact = exactFlow(xT, aT, a0);
  const err = async (which: 'ddim' | 'dpmpp', K: number, param: Parameterization) => {
    const s = uniformLambdaSchedule(K);
    const denoise = gaussianDenoiser(data, (at) => s.alphas[at.index]!, param);
    const out =
      which === 'ddim'
        ? await sampleDdim(denoise, xT, { ...s, sigmas: new Float64Array(K) }, { parameterization: param, noise: new SeededNoise(0) })
        : await sampleDpmSolverPP2M(denoise, xT, s, { parameterization: param });
    const e = tf.tidy(() => tf.max(tf.abs(tf.sub(out, exact))).dataSync()[0]!);
    out.dispose();
    return e;
  };
  for (const param of params) {
    const d = [await err('ddim', 25, param), await err('ddim', 50, param), await err('ddim', 100, param)];
    const p = [await err('dpmpp', 25, param), await err('dpmpp', 50, param), await err('dpmpp', 100, param)];
    t.log(param, 'ddim', d.map((e) => e.toExponential(2)).join(' '), 'dpmpp-2m', p.map((e) => e.toExponential(2)).join(' '));
    for (let i = 0; i < 2; i++) {
      t.true(d[i]! / d[i + 1]! > 1.7 && d[i]! / d[i + 1]! < 2.3, `DDIM error ratio ${d[i]! / d[i + 1]!}`);
      t.true(p[i]! / p[i + 1]! > 3.4 && p[i]! / p[i + 1]! < 4.6, `DPM-Solver++(2M) error ratio ${p[i]! / p[i + 1]!}`);
    }
    t.true(p[1]! < d[1]! / 5);
  }
  tf.dispose([xT, exact]);
});

test('a first-order DPM-Solver++ step is the η = 0 DDIM step', async (t) => {
  const s = uniformLambdaSchedule(10);
  const noise = new SeededNoise(5);
  const x = marginalSample(data, s.alphas[6]!, 8, 8, noise);
  for (const param of params) {
    const denoise = gaussianDenoiser(data, (at) => s.alphas[at.index]!, param);
    const a = await ddimStep(denoise, x, 3, { ...s, sigmas: new Float64Array(10) }, { parameterization: param, noise });
    const b = await dpmSolverPP2MStep(denoise, x, 3, s, { parameterization: param });
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(a.x, b.x))).dataSync()[0]!);
    t.true(diff < 1e-5, `max difference ${diff}`);
    t.is(a.at.t, s.timesteps[6]!);
    tf.dispose([a.x, a.predX0, a.modelOut, b.x, b.predX0, b.modelOut]);
  }
  x.dispose();
});

/** Counts draws and their `use` labels. */
class CountingNoise implements NoiseSource {
  uses: string[] = [];
  constructor(private readonly inner: NoiseSource) {}
  draw(shape: readonly number[], use?: string): tf.Tensor {
    this.uses.push(use ?? '');
    return this.inner.draw(shape, use);
  }
}

test.serial('loops = chained single steps (teacher forcing), progress, one noise draw per step, no leaks', async (t) => {
  const steps = 6;
  const respaced = respaceSchedule(full, spaceTimesteps(1000, [steps]));
  const xT = marginalSample(data, respaced.alphasCumprod[steps - 1]!, 4, 4, new SeededNoise(1));
  const before = tf.memory().numTensors;
  for (const param of params) {
    const denoise = gaussianDenoiser(data, full, param);
    const noiseA = new CountingNoise(new SeededNoise(9));
    const seen: { k: number; t: number; x: Float32Array }[] = [];
    const out = await sampleDdpm(denoise, xT, respaced, {
      parameterization: param,
      noise: noiseA,
      onStep: (e) => void seen.push({ k: e.k, t: e.t, x: e.x.dataSync() as Float32Array }),
    });
    t.deepEqual(noiseA.uses, new Array(steps).fill('step'));
    t.deepEqual(seen.map((e) => e.k), [0, 1, 2, 3, 4, 5]);
    t.deepEqual(seen.map((e) => e.t), [...respaced.timestepMap].reverse());
    // Teacher forcing: each step from the previous step's stored x reproduces the loop exactly.
    const noiseB = new SeededNoise(9);
    let x = xT;
    for (let k = 0; k < steps; k++) {
      const r: StepResult = await ddpmStep(denoise, x, k, respaced, { parameterization: param, noise: noiseB });
      t.deepEqual(r.x.dataSync(), seen[k]!.x);
      if (x !== xT) x.dispose();
      tf.dispose([r.predX0, r.modelOut]);
      x = r.x;
    }
    t.deepEqual(x.dataSync(), out.dataSync());
    tf.dispose([x, out]);
  }
  const d = ddimSchedule(full, 5, 1, { upstreamPlusOne: true });
  for (const name of samplerNames) {
    const o = await getSampler(name).sample(gaussianDenoiser(data, full, 'v'), xT, full, 5, { parameterization: 'v', noise: new SeededNoise(2) });
    o.dispose();
  }
  const o = await sampleDdim(gaussianDenoiser(data, full, 'eps'), xT, { ...d, timesteps: d.ddimTimesteps }, { noise: new SeededNoise(2) });
  o.dispose();
  t.is(tf.memory().numTensors, before);
  xT.dispose();
});

test.serial('abort between steps, and errors name the problem', async (t) => {
  const xT = tf.zeros([1, 2, 2, 4]) as tf.Tensor4D;
  const before = tf.memory().numTensors;
  const ctrl = new AbortController();
  let calls = 0;
  const denoise = gaussianDenoiser(data, full, 'eps');
  await t.throwsAsync(
    getSampler('ddim').sample((x, at) => (++calls === 2 && ctrl.abort(new AbortError('stop')), denoise(x, at)), xT, full, 5, { noise: new SeededNoise(1), signal: ctrl.signal }),
    { instanceOf: AbortError, message: 'stop' },
  );
  t.is(calls, 2);
  t.is(tf.memory().numTensors, before);
  t.throws(() => getSampler('plms'), { message: 'unknown sampler "plms" (available: ddpm, ddim, dpmpp-2m, euler-a)' });
  await t.throwsAsync(getSampler('ddpm').sample(denoise, xT, full, 3), { message: /options\.noise is required/ });
  await t.throwsAsync(getSampler('ddim').sample(() => tf.zeros([1, 2, 2, 3]) as tf.Tensor4D, xT, full, 4, { noise: new SeededNoise(1) }), {
    message: /denoiser output shape \[1,2,2,3\] does not match the latent \[1,2,2,4\]/,
  });
  t.is(tf.memory().numTensors, before);
  xT.dispose();
});

test('DDPM draws noise at i = 0 but does not add it', async (t) => {
  const respaced = respaceSchedule(full, [0, 500]);
  const x = tf.ones([1, 2, 2, 4]) as tf.Tensor4D;
  const denoise = gaussianDenoiser(data, full, 'eps');
  const big = { draw: (shape: readonly number[]) => tf.fill([...shape], 1e3) };
  const r = await ddpmStep(denoise, x, 1, respaced, { noise: big });
  t.true(Math.max(...r.x.dataSync()) < 10);
  tf.dispose([x, r.x, r.predX0, r.modelOut]);
});
