import * as tf from '@tensorflow/tfjs-core';
import { type NoiseSource, type ProgressCallback, SeededNoise, evaluateTiled, resizeBicubic } from '@stablesr/core';
import { type ConditionalUNetNetwork } from './conditionalUNetNetwork.js';
import { type IRSDESchedule } from './irsdeSchedule.js';
import { NOISE_PARAMETERIZATIONS, type NoiseParameterization, parameterizedNoise } from './noiseParameterization.js';
import { noiseState } from './marginal.js';
import { samplePosterior } from './posteriorSampler.js';
import { type IRSDEDenoiseFn } from './samplerTypes.js';
import { sampleReverseSde } from './sdeSampler.js';
import { reverseTimesteps } from './reverseTimesteps.js';
import { checkIrsdeSteps } from './irsdeUpscaleOptions.js';
import { type MapNetworkRun, dihedralEnsemble } from './dihedralEnsemble.js';

/** The reverse samplers of the official code: `reverse_sde` (Euler–Maruyama) or the newer `reverse_posterior`. */
export type IRSDESamplerName = 'sde' | 'posterior';

export interface IRSDESuperResolveOptions {
  /** Upscaling factor of the model (the official SISR model: 4). */
  scale?: number;
  /** What the network outputs (default `eps`, the reference's; stablesr-trained models record theirs). */
  parameterization?: NoiseParameterization;
  /**
   * Scale of every normal draw (x_T's and each step's), default 1 (the reference). Below 1 the sample moves towards
   * the deterministic path through the model's x̂₀ estimates (0: x_T = μ, no injected noise), trading generated
   * texture for fidelity (PSNR); the default model's table in the README measures it.
   */
  temperature?: number;
  sampler?: IRSDESamplerName;
  /**
   * Reverse steps, a subset of the schedule's T timesteps (default T, the reference). Fewer steps are the posterior
   * sampler's only (it jumps between timesteps exactly); 1 step returns the network's x̂₀ at t = T.
   */
  steps?: number;
  /**
   * Geometric self-ensemble ({@link dihedralEnsemble}): every network call runs on the 8 flips/transposes of its
   * inputs and averages the outputs mapped back; 8× the network cost. Default false.
   */
  selfEnsemble?: boolean;
  /** Seed of the x_T and per-step draws (ignored when `noise` is given). */
  seed?: number;
  /** Source of the draws (`x_T`, then one `step` per step), e.g. injected recorded draws. */
  noise?: NoiseSource;
  /**
   * Side of the pixel tiles the network runs on when the upscaled image is larger (its outputs blended with Gaussian
   * weights every step, as StableSR's canvas does with latent tiles). Default 256.
   */
  tileSize?: number;
  /** Overlap of neighbouring tiles in pixels (default a quarter of the tile). */
  tileOverlap?: number;
  /** After each reverse step (`stage: 'sample'`, done / total steps). */
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
  /**
   * Receives the intermediates under the fixtures' names (`mu`, `x_T`, `x.step<k>`, `output` before clamping); the
   * tensors are released after the call returns (copy what you keep).
   */
  trace?: (name: string, x: tf.Tensor4D) => void;
}

/** Defaults of {@link irsdeSuperResolve}. */
export const IRSDE_SR_DEFAULTS = { scale: 4, sampler: 'posterior' as IRSDESamplerName, seed: 0, tileSize: 256 } as const;

function positiveInteger(v: number, name: string, min = 1): number {
  if (!Number.isInteger(v) || v < min) throw new Error(`option ${name} must be an integer ≥ ${min}, got ${v}`);
  return v;
}

/**
 * IR-SDE super-resolution as the official `test.py` runs it: μ = bicubic ×`scale` of the LQ image, x_T = μ + λ·N,
 * T reverse steps of the chosen sampler with the network's noise prediction, output clamped to [0, 1]. `lq` is NHWC
 * in [0, 1]. Images larger than `tileSize` run the (pixel-space) network tile by tile with blended outputs, so memory
 * is bounded by one tile's network evaluation. The result belongs to the caller.
 */
export async function irsdeSuperResolve(net: ConditionalUNetNetwork, schedule: IRSDESchedule, lq: tf.Tensor4D, opts: IRSDESuperResolveOptions = {}): Promise<tf.Tensor4D> {
  const scale = positiveInteger(opts.scale ?? IRSDE_SR_DEFAULTS.scale, 'scale');
  const tileSize = positiveInteger(opts.tileSize ?? IRSDE_SR_DEFAULTS.tileSize, 'tileSize', 8);
  const tileOverlap = opts.tileOverlap ?? Math.floor(tileSize / 4);
  if (!Number.isInteger(tileOverlap) || tileOverlap < 0 || tileOverlap >= tileSize) throw new Error(`option tileOverlap must be an integer in [0, tileSize), got ${tileOverlap}`);
  const sampler = opts.sampler ?? IRSDE_SR_DEFAULTS.sampler;
  if (sampler !== 'sde' && sampler !== 'posterior') throw new Error(`option sampler must be "sde" or "posterior", got ${JSON.stringify(sampler)}`);
  const steps = opts.steps ?? schedule.T;
  reverseTimesteps(schedule.T, steps);
  const stepsProblem = checkIrsdeSteps(schedule.T, steps, sampler, 'option steps');
  if (stepsProblem) throw new Error(stepsProblem);
  if (lq.shape.length !== 4 || lq.shape[3] !== 3) throw new Error(`IR-SDE super-resolution expects an NHWC RGB image, got [${lq.shape}]`);
  const temperature = opts.temperature ?? 1;
  if (!(temperature >= 0 && temperature <= 2)) throw new Error(`option temperature must be a number in [0, 2], got ${temperature}`);
  const source = opts.noise ?? new SeededNoise(opts.seed ?? IRSDE_SR_DEFAULTS.seed);
  const noise: NoiseSource = temperature === 1 ? source : { draw: (shape, use) => tf.tidy(() => tf.mul(source.draw(shape, use), temperature)) };
  const [, h, w] = lq.shape;
  const mu = resizeBicubic(lq, h * scale, w * scale);
  const tiled = Math.max(h, w) * scale > tileSize;
  const p = opts.parameterization ?? 'eps';
  if (!NOISE_PARAMETERIZATIONS.includes(p)) throw new Error(`option parameterization must be one of ${NOISE_PARAMETERIZATIONS.join(', ')}, got ${JSON.stringify(p)}`);
  // The residual and x0 forms are pixel-wise around the network, so tiles see exactly what the whole image would.
  const runNet: MapNetworkRun = (a, b, c) => net.run(a, b, c);
  const run = opts.selfEnsemble ? dihedralEnsemble(runNet) : runNet;
  const noiseOf = (xs: tf.Tensor4D, ms: tf.Tensor4D, tt: number): Promise<tf.Tensor4D> => parameterizedNoise(p, schedule, xs, ms, tt, run);
  const denoise: IRSDEDenoiseFn = tiled
    ? (x, t) => evaluateTiled(noiseOf, x, mu, t, { tileSize, tileOverlap, signal: opts.signal })
    : (x, t) => noiseOf(x, mu, t);
  let xT: tf.Tensor4D | undefined;
  try {
    xT = noiseState(schedule, mu, noise) as tf.Tensor4D;
    opts.trace?.('mu', mu);
    opts.trace?.('x_T', xT);
    const sample = sampler === 'sde' ? sampleReverseSde : samplePosterior;
    const out = await sample(denoise, xT, schedule, {
      mu,
      noise,
      steps,
      signal: opts.signal,
      onStep: (e) => {
        opts.trace?.(`x.step${e.k + 1}`, e.x);
        opts.onProgress?.({ stage: 'sample', done: e.k + 1, total: e.total, detail: { t: e.t } });
      },
    });
    try {
      opts.trace?.('output', out);
      return tf.tidy(() => tf.clipByValue(out, 0, 1) as tf.Tensor4D);
    } finally {
      out.dispose();
    }
  } finally {
    xT?.dispose();
    mu.dispose();
  }
}
