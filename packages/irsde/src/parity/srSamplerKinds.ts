import * as tf from '@tensorflow/tfjs-core';
import { type Fixture, type KindOutputs, type ParityEnv, type ParityKind, type ParityKinds, collectOutputs, nhwcToNchw } from '@stablesr/core';
import { disposeConditionalUNet } from '../conditionalUNet.js';
import { type ConditionalUNetNetwork, compileConditionalUNet } from '../conditionalUNetNetwork.js';
import { type IRSDESamplerName, irsdeSuperResolve } from '../irsdeSuperResolve.js';
import { type IRSDESchedule } from '../irsdeSchedule.js';
import { posteriorSamplerStep } from '../posteriorSampler.js';
import { type IRSDEDenoiseFn, type IRSDESamplerOptions } from '../samplerTypes.js';
import { reverseSdeSamplerStep } from '../sdeSampler.js';
import { fixtureSchedule } from './fixtureSchedule.js';
import { fixtureConditionalUNet } from './unetKind.js';

type SamplerStep = (denoise: IRSDEDenoiseFn, x: tf.Tensor4D, s: IRSDESchedule, t: number, o: Pick<IRSDESamplerOptions, 'mu' | 'noise'>) => Promise<{ x: tf.Tensor4D; noisePred: tf.Tensor4D }>;

const nchw = (x: tf.Tensor4D): tf.Tensor => tf.tidy(() => nhwcToNchw(x));

const fixtureScale = (fx: Fixture): number => Number(fx.config.scale ?? 4);

/** Runs `body` with the fixture's network compiled for the engine, the schedule and the LQ input, releasing all of it after. */
async function withSR(fx: Fixture, env: ParityEnv, body: (net: ConditionalUNetNetwork, s: IRSDESchedule, lq: tf.Tensor4D) => Promise<KindOutputs>): Promise<KindOutputs> {
  const unet = fixtureConditionalUNet(fx);
  const net = compileConditionalUNet(unet, env.engine);
  const lq = fx.inputNhwc('lq') as tf.Tensor4D;
  try {
    return await body(net, fixtureSchedule(fx), lq);
  } finally {
    lq.dispose();
    await net.network.dispose();
    disposeConditionalUNet(unet);
  }
}

/** Kinds `sampler.irsde-sr` (reverse SDE) and `sampler.irsde-sr-posterior` (README 7.18), both modes. */
function srKind(sampler: IRSDESamplerName, step: SamplerStep): ParityKind {
  return {
    // Free-running: the shipped super-resolution (`irsdeSuperResolve`, untiled), traced under the fixture's names.
    run: (fx, env) =>
      withSR(fx, env, (net, s, lq) =>
        collectOutputs(async (outs) => {
          const out = await irsdeSuperResolve(net, s, lq, { scale: fixtureScale(fx), sampler, noise: fx.noise(), tileSize: Number.MAX_SAFE_INTEGER, trace: (name, x) => void (outs[name] = nchw(x)) });
          out.dispose();
        }),
      ),
    // Teacher-forced: step k starts from the stored x.step<k−1> (x_T for k = 1) with the stored μ as condition.
    stepwise: (fx, env) =>
      withSR(fx, env, (net, s) =>
        collectOutputs(async (outs) => {
          const noise = fx.noise();
          const mu = fx.expectedNhwc('mu') as tf.Tensor4D;
          try {
            noise.draw(mu.shape, 'x_T').dispose(); // x_T's draw: the stored x_T is the start
            for (let k = 1; k <= s.T; k++) {
              const prev = fx.expectedNhwc(k === 1 ? 'x_T' : `x.step${k - 1}`) as tf.Tensor4D;
              try {
                const r = await step((x, t) => net.run(x, mu, t), prev, s, s.T - k + 1, { mu, noise });
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
  'sampler.irsde-sr': srKind('sde', reverseSdeSamplerStep),
  'sampler.irsde-sr-posterior': srKind('posterior', posteriorSamplerStep),
};
