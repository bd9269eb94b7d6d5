import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { AbortError, InjectedNoise } from '@stablesr/core';
import { type ConditionedUNet, generateLatents, guidedDenoiser } from '../src/generate/index.js';
import { registerSchedule } from '../src/schedule/index.js';
import { channelStats, distributionProblems, gaussianDenoiser } from './gaussianData.js';

/** A fake network whose output row b is filled with context[b, 0, 0] + 0·x, and that records its calls. */
function contextEcho(calls: { batch: number; t: number[] }[]): ConditionedUNet {
  return (x, t, c) => {
    calls.push({ batch: x.shape[0], t });
    return tf.tidy(() => tf.add(tf.mul(x, 0), tf.reshape(tf.slice(c, [0, 0, 0], [-1, 1, 1]), [-1, 1, 1, 1]))) as tf.Tensor4D;
  };
}

test.serial('classifier-free guidance: one batch [uncond, cond], m_u + s·(m_c − m_u); no batch at scale 1', async (t) => {
  const before = tf.memory().numTensors;
  const cond = tf.fill([2, 3, 5], 2) as tf.Tensor3D;
  const uncond = tf.fill([2, 3, 5], -1) as tf.Tensor3D;
  const x = tf.zeros([2, 2, 2, 4]) as tf.Tensor4D;
  const calls: { batch: number; t: number[] }[] = [];
  const raws: number[][] = [];
  const at = { k: 0, total: 1, index: 0, t: 7 };
  const m = await guidedDenoiser(contextEcho(calls), cond, uncond, 7.5, (raw) => void raws.push(Array.from(raw.dataSync().filter((_, i) => i % 16 === 0))))(x, at);
  t.deepEqual(calls, [{ batch: 4, t: [7, 7, 7, 7] }]);
  t.deepEqual(raws, [[-1, -1, 2, 2]]);
  t.deepEqual(Array.from(new Set(m.dataSync())), [-1 + 7.5 * 3]);
  m.dispose();
  const m1 = await guidedDenoiser(contextEcho(calls), cond, uncond, 1)(x, at);
  t.deepEqual(calls[1], { batch: 2, t: [7, 7] });
  t.deepEqual(Array.from(new Set(m1.dataSync())), [2]);
  tf.dispose([m1, cond, uncond, x]);
  t.is(tf.memory().numTensors, before);
});

test.serial('generateLatents: prompts through the encoder, noise order, progress, decode, no leaks', async (t) => {
  const before = tf.memory().numTensors;
  const encoded: string[][] = [];
  const text = {
    encode: (p: readonly string[]) => {
      encoded.push([...p]);
      return tf.tensor3d(p.map((s) => [[s.length, 0]]));
    },
  };
  const calls: { batch: number; t: number[] }[] = [];
  const shape = [2, 3, 5, 4];
  const draws = Array.from({ length: 5 }, (_, i) => tf.fill(shape, i * 0.1));
  const progress: string[] = [];
  const r = await generateLatents({
    unet: contextEcho(calls),
    text,
    prompt: 'a cat',
    batchSize: 2,
    negativePrompt: 'x',
    guidanceScale: 3,
    steps: 4,
    width: 40,
    height: 24,
    noise: new InjectedNoise(draws, ['x_T', 'step', 'step', 'step', 'step']),
    decode: (z) => tf.mul(z, 0.18215) as tf.Tensor4D,
    onProgress: (e) => void progress.push(`${e.stage} ${e.done}/${e.total}`),
  });
  t.deepEqual(encoded, [['a cat', 'a cat'], ['x', 'x']]);
  t.deepEqual(calls.map((c) => c.t), [[751, 751, 751, 751], [501, 501, 501, 501], [251, 251, 251, 251], [1, 1, 1, 1]]);
  t.deepEqual(progress, ['sample 1/4', 'sample 2/4', 'sample 3/4', 'sample 4/4', 'decode 1/1']);
  t.deepEqual(r.latents.shape, shape);
  const lat = r.latents.dataSync();
  const dec = r.decoded!.dataSync();
  t.true(dec.every((v, i) => Math.abs(v - lat[i]!) < 1e-5));
  t.true(r.image!.dataSync().every((v, i) => Math.abs(v - Math.min(Math.max((dec[i]! + 1) / 2, 0), 1)) < 1e-6));
  tf.dispose([r.latents, r.decoded!, r.image!, ...draws]);
  t.is(tf.memory().numTensors, before);
});

test.serial('generateLatents: bad sizes, unknown sampler, missing conditioning, abort', async (t) => {
  const before = tf.memory().numTensors;
  const unet = contextEcho([]);
  const context = tf.zeros([1, 3, 2]) as tf.Tensor3D;
  await t.throwsAsync(generateLatents({ unet, context, guidanceScale: 1, width: 100 }), { message: /width 100 and height 512 must be multiples of the VAE downsampling factor 8/ });
  await t.throwsAsync(generateLatents({ unet, context, guidanceScale: 1, sampler: 'plms' }), { message: 'unknown sampler "plms" (available: ddpm, ddim, dpmpp-2m, euler-a)' });
  await t.throwsAsync(generateLatents({ unet, context }), { message: /guidance needs `uncondContext`/ });
  await t.throwsAsync(generateLatents({ unet, prompt: 'x' }), { message: /give either `context` or a `text` conditioner/ });
  const ctrl = new AbortController();
  await t.throwsAsync(
    generateLatents({ unet, context, guidanceScale: 1, width: 16, height: 16, steps: 5, seed: 1, signal: ctrl.signal, onStep: (e) => (e.k === 1 ? ctrl.abort(new AbortError('stop')) : undefined) }),
    { instanceOf: AbortError },
  );
  context.dispose();
  t.is(tf.memory().numTensors, before);
});

test('generateLatents with DPM-Solver++(2M) and DDIM draws from the right distribution when the network is exact (v, guidance on)', async (t) => {
  // A "network" that is the exact v-denoiser of Gaussian data whatever the context: guidance then is a no-op.
  const full = registerSchedule();
  const data = { mu: [0.5, -1, 0, 2], s: [1, 1.5, 0.8, 1.2] };
  const exact = gaussianDenoiser(data, full, 'v');
  const unet: ConditionedUNet = (x, ts) => exact(x, { k: 0, total: 1, index: 0, t: ts[0]! });
  const context = tf.zeros([1, 3, 2]) as tf.Tensor3D;
  for (const [sampler, steps, tol] of [['dpmpp-2m', 25, 0.08], ['ddim', 50, 0.05]] as const) {
    const r = await generateLatents({ unet, context, uncondContext: context, guidanceScale: 5, sampler, steps, width: 1024, height: 1024, seed: 11, parameterization: 'v' });
    const stats = channelStats(r.latents);
    r.latents.dispose();
    // x_T = N(0, 1) (as txt2img) ignores the data's √ᾱ_T·μ at the first timestep t_T; the exact flow carries that
    // offset to x₀: E[x₀] = μ·(1 − s·√ᾱ_T/√(ᾱ_T·s² + 1 − ᾱ_T)).
    const aT = Math.fround(full.alphasCumprod[Math.floor(1000 / steps) * (steps - 1) + 1]!);
    const shifted = { mu: data.mu.map((m, c) => m * (1 - (data.s[c]! * Math.sqrt(aT)) / Math.sqrt(aT * data.s[c]! ** 2 + 1 - aT))), s: data.s };
    t.deepEqual(distributionProblems(stats, shifted, 1, 0.03, tol), [], sampler);
  }
  context.dispose();
});
