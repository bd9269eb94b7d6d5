import * as tf from '@tensorflow/tfjs-core';
import { type Fixture, type KindOutputs, type ParityEnv, type ParityKind, type ParityKinds, nhwcToNchw, resizeBicubic } from '@stablesr/core';
import { disposeConditionalUNet } from '../conditionalUNet.js';
import { compileConditionalUNet } from '../conditionalUNetNetwork.js';
import { type IRSDESchedule } from '../irsdeSchedule.js';
import { noiseState } from '../marginal.js';
import { posteriorSamplerStep, samplePosterior } from '../posteriorSampler.js';
import { type IRSDEDenoiseFn, type IRSDESamplerOptions } from '../samplerTypes.js';
import { reverseSdeSamplerStep, sampleReverseSde } from '../sdeSampler.js';
import { fixtureSchedule } from './fixtureSchedule.js';
import { fixtureConditionalUNet } from './unetKind.js';

type Sampler = (denoise: IRSDEDenoiseFn, xT: tf.Tensor4D, s: IRSDESchedule, o: IRSDESamplerOptions) => Promise<tf.Tensor4D>;
type SamplerStep = (denoise: IRSDEDenoiseFn, x: tf.Tensor4D, s: IRSDESchedule, t: number, o: Pick<IRSDESamplerOptions, 'mu' | 'noise'>) => Promise<{ x: tf.Tensor4D; noisePred: tf.Tensor4D }>;

const nchw = (x: tf.Tensor4D): tf.Tensor => tf.tidy(() => nhwcToNchw(x));

/**
 * Runs `body` with the fixture's network compiled for the engine, the schedule and μ = bicubic ×`scale` of `lq`
 * (`util.upscale`, `F.interpolate(mode="bicubic")`), releasing all of it after.
 */
async function withSR(fx: Fixture, env: ParityEnv, body: (denoise: IRSDEDenoiseFn, s: IRSDESchedule, mu: tf.Tensor4D) => Promise<KindOutputs>): Promise<KindOutputs> {
  const scale = Number(fx.config.scale ?? 4);
  const unet = fixtureConditionalUNet(fx);
  const net = compileConditionalUNet(unet, env.engine);
  const lq = fx.inputNhwc('lq') as tf.Tensor4D;
  const mu = resizeBicubic(lq, lq.shape[1] * scale, lq.shape[2] * scale);
  try {
    return await body((x, t) => net.run(x, mu, t), fixtureSchedule(fx), mu);
  } finally {
    tf.dispose([lq, mu]);
    await net.network.dispose();
    disposeConditionalUNet(unet);
  }
}

/** Fills a kind's outputs; if that fails part-way, what it had produced is released. */
async function collect(fill: (outs: KindOutputs) => Promise<void>): Promise<KindOutputs> {
  const outs: KindOutputs = {};
  try {
    await fill(outs);
    return outs;
  } catch (e) {
    tf.dispose(Object.values(outs).filter((v): v is tf.Tensor => v instanceof tf.Tensor));
    throw e;
  }
}

/** Kinds `sampler.irsde-sr` (reverse SDE) and `sampler.irsde-sr-posterior` (README 7.18), both modes. */
function srKind(sample: Sampler, step: SamplerStep): ParityKind {
  return {
    run: (fx, env) =>
      withSR(fx, env, (denoise, s, mu) =>
        collect(async (outs) => {
          const noise = fx.noise();
          const xT = noiseState(s, mu, noise) as tf.Tensor4D;
          outs.mu = nchw(mu);
          outs.x_T = nchw(xT);
          try {
            const x0 = await sample(denoise, xT, s, { mu, noise, onStep: ({ k, x }) => void (outs[`x.step${k + 1}`] = nchw(x)) });
            outs.output = nchw(x0);
            x0.dispose();
          } finally {
            xT.dispose();
          }
        }),
      ),
    // Teacher-forced: step k starts from the stored x.step<k−1> (x_T for k = 1) with the stored μ as condition.
    stepwise: (fx, env) =>
      withSR(fx, env, (denoise, s) =>
        collect(async (outs) => {
          const noise = fx.noise();
          const mu = fx.expectedNhwc('mu') as tf.Tensor4D;
          try {
            noise.draw(mu.shape, 'x_T').dispose(); // x_T's draw: the stored x_T is the start
            for (let k = 1; k <= s.T; k++) {
              const prev = fx.expectedNhwc(k === 1 ? 'x_T' : `x.step${k - 1}`) as tf.Tensor4D;
              try {
                const r = await step(denoise, prev, s, s.T - k + 1, { mu, noise });
                r.noisePred.dispose();
                outs[`x.step${k}`] = nchw(r.x);
                if (k === s.T) outs.output = nchw(r.x);
                r.x.dispose();
              } finally {
                prev.dispose();
              }
            }
          } finally {
            mu.dispose();
          }
        }),
      ),
  };
}

export const srSamplerKinds: ParityKinds = {
  'sampler.irsde-sr': srKind(sampleReverseSde, reverseSdeSamplerStep),
  'sampler.irsde-sr-posterior': srKind(samplePosterior, posteriorSamplerStep),
};
