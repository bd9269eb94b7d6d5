import * as tf from '@tensorflow/tfjs-core';
import { type NoiseSource, type ProgressCallback, gaussianTileWeights, imagePatchPlan, throwIfAborted } from '@stablesr/core';
import {
  type DdimArrays,
  type DiffusionSchedule,
  type Parameterization,
  type RespacedSchedule,
  type SamplerStepCallback,
  ddimSchedule,
  qSample,
  registerSchedule,
  respaceSchedule,
  sampleDdim,
  sampleDdpm,
  spaceTimesteps,
} from '@stablesr/unet';
import { type ColorFixKind, applyColorFix } from './colorFix.js';
import { type Conditioning, type WindowEvaluator, windowEvaluator } from './guidedDenoiser.js';
import { type CanvasGeometry, postprocessCanvas, preprocessCanvas } from './preprocess.js';
import { type LatentPosterior, type SRModels, disposePosterior } from './srModels.js';
import { evaluateTiled } from './tiledSampling.js';

/** Noise schedule of the diffusion model (`linear_start`, `linear_end`, `timesteps` of the YAML). */
export interface ScheduleParams {
  linearStart: number;
  linearEnd: number;
  timesteps: number;
}

export type SamplerKind = 'ddpm' | 'ddim';

export interface SamplingParams {
  sampler: SamplerKind;
  /** DDPM: respaced steps (official default 200); DDIM: `ddim_steps`. */
  steps: number;
  /** DDIM η (the README's command uses 1.0). */
  eta?: number;
  parameterization: Parameterization;
  /** Latent tile side; latents larger than this are sampled tile by tile with Gaussian blending. */
  tileSize: number;
  tileOverlap: number;
}

/** The schedules one sampling run needs, built once. */
export interface SamplerSchedules {
  full: DiffusionSchedule;
  ddpm?: RespacedSchedule;
  ddim?: DdimArrays;
}

/** DDPM: respaced with `space_timesteps` from the float32 ᾱ (the DDPM scripts); DDIM: StableSR's arrays (no `+1`). */
export function buildSchedules(s: ScheduleParams, sampler: SamplerKind, steps: number, eta = 1): SamplerSchedules {
  if (!Number.isInteger(steps) || steps < 1 || steps > s.timesteps) throw new Error(`steps must be an integer in [1, ${s.timesteps}], got ${steps}`);
  const full = registerSchedule({ betaSchedule: 'linear', timesteps: s.timesteps, linearStart: s.linearStart, linearEnd: s.linearEnd });
  if (sampler === 'ddpm') return { full, ddpm: respaceSchedule(full, spaceTimesteps(s.timesteps, [steps])) };
  if (sampler === 'ddim') {
    const d = ddimSchedule(full, steps, eta, { upstreamPlusOne: false });
    // The network sees space_timesteps while ᾱ come from range(0, T, T // S) by position (reference behaviour).
    return { full, ddim: { alphas: d.alphas, alphasPrev: d.alphasPrev, sigmas: d.sigmas, timesteps: spaceTimesteps(s.timesteps, [steps]) } };
  }
  throw new Error(`sampler must be "ddpm" or "ddim", got "${String(sampler)}"`);
}

/** `scale_factor · (mean + std · noise)`: a posterior sample in the diffusion model's latent scale. */
export function sampleLatent(p: LatentPosterior, scaleFactor: number, noise: NoiseSource): tf.Tensor4D {
  const z = noise.draw(p.mean.shape, 'posterior');
  try {
    return tf.tidy(() => tf.mul(tf.add(p.mean, tf.mul(p.std, z)), scaleFactor) as tf.Tensor4D);
  } finally {
    z.dispose();
  }
}

/** `get_first_stage_encoding(encode_first_stage(image))` with the first-stage VAE. */
export async function encodeInitLatent(models: SRModels, image: tf.Tensor4D, noise: NoiseSource): Promise<tf.Tensor4D> {
  const p = await models.encodeFirstStage(image);
  try {
    return sampleLatent(p, models.scaleFactor, noise);
  } finally {
    disposePosterior(p);
  }
}

/** x_T = q_sample(init_latent, T − 1) on the full schedule (`model_ori.q_sample` of the canvas scripts). */
export function noisedLatent(full: DiffusionSchedule, initLatent: tf.Tensor4D, noise: tf.Tensor): tf.Tensor4D {
  const t = Array<number>(initLatent.shape[0]).fill(full.numTimesteps - 1);
  return qSample(full, initLatent, noise, t) as tf.Tensor4D;
}

export interface SampleOptions {
  noise: NoiseSource;
  onStep?: SamplerStepCallback;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

/**
 * The denoiser handed to the samplers: the whole latent at once, or tiles with Gaussian blending when
 * the latent is larger than a tile. The LR latent conditions the time-aware encoder at the network timestep.
 */
export function srDenoiser(evaluate: WindowEvaluator, lrLatent: tf.Tensor4D, p: Pick<SamplingParams, 'tileSize' | 'tileOverlap'>, opts: Pick<SampleOptions, 'onProgress' | 'signal'> = {}) {
  return (x: tf.Tensor4D, at: { t: number }): Promise<tf.Tensor4D> => {
    const [, h, w] = x.shape;
    if (h <= p.tileSize && w <= p.tileSize) return evaluate(x, lrLatent, at.t);
    return evaluateTiled(evaluate, x, lrLatent, at.t, { tileSize: p.tileSize, tileOverlap: p.tileOverlap, onProgress: opts.onProgress, signal: opts.signal });
  };
}

/**
 * Runs the sampler from the LR latent as the canvas scripts do. DDPM: x_T = q_sample(init_latent, 999)
 * (draw `x_T`). DDIM: the script's q_sample draw is discarded and x_T is pure noise (draws `discarded`, `x_T`).
 */
export async function sampleFromLatent(models: SRModels, initLatent: tf.Tensor4D, cond: Conditioning, p: SamplingParams, sched: SamplerSchedules, opts: SampleOptions): Promise<tf.Tensor4D> {
  checkTiling(p);
  const evaluate = windowEvaluator(models, cond);
  const denoise = srDenoiser(evaluate, initLatent, p, opts);
  const total = p.steps;
  const onStep: SamplerStepCallback = async (e) => {
    await opts.onStep?.(e);
    opts.onProgress?.({ stage: 'sample', done: e.k + 1, total, detail: { t: e.t } });
  };
  const common = { noise: opts.noise, parameterization: p.parameterization, signal: opts.signal, onStep };
  if (p.sampler === 'ddpm') {
    if (!sched.ddpm) throw new Error('sampleFromLatent: DDPM schedule missing');
    const z = opts.noise.draw(initLatent.shape, 'x_T');
    const xT = noisedLatent(sched.full, initLatent, z);
    z.dispose();
    try {
      return await sampleDdpm(denoise, xT, sched.ddpm, common);
    } finally {
      xT.dispose();
    }
  }
  if (!sched.ddim) throw new Error('sampleFromLatent: DDIM schedule missing');
  opts.noise.draw(initLatent.shape, 'discarded').dispose();
  const xT = opts.noise.draw(initLatent.shape, 'x_T') as tf.Tensor4D;
  try {
    return await sampleDdim(denoise, xT, sched.ddim, { ...common, vX0: 'viaEps' });
  } finally {
    xT.dispose();
  }
}

export function checkTiling(p: Pick<SamplingParams, 'tileSize' | 'tileOverlap'>): void {
  if (!Number.isInteger(p.tileSize) || p.tileSize < 1) throw new Error(`tileSize must be a positive integer (latent pixels), got ${p.tileSize}`);
  if (!Number.isInteger(p.tileOverlap) || p.tileOverlap < 0) throw new Error(`tileOverlap must be a non-negative integer, got ${p.tileOverlap}`);
  if (p.tileOverlap >= p.tileSize) throw new Error(`tileOverlap (${p.tileOverlap}) must be smaller than tileSize (${p.tileSize})`);
}

/**
 * `vq_model.decode(samples / scale_factor, enc_fea)` with `fusion_w = fidelity`, `enc_fea` from the CFW
 * encoder of the (pre-processed) image. Without a CFW model the first-stage decoder is used.
 */
export async function decodeSamples(models: SRModels, samples: tf.Tensor4D, image: tf.Tensor4D, fidelity: number): Promise<tf.Tensor4D> {
  const z = tf.div(samples, models.scaleFactor) as tf.Tensor4D;
  try {
    if (!models.cfw) return await models.decodeFirstStage(z);
    const { posterior, encFea } = await models.cfw.encode(image);
    disposePosterior(posterior);
    try {
      return await models.cfw.decode(z, encFea, fidelity);
    } finally {
      tf.dispose(encFea);
    }
  } finally {
    z.dispose();
  }
}

export interface CanvasRunOptions extends SampleOptions {
  fidelity: number;
  colorFix: ColorFixKind;
}

/**
 * One canvas (pre-processed, padded image in [-1, 1], NHWC) through the diffusion SR: encode, sample,
 * CFW decode, colour fix against the canvas. Returns the fixed image in [-1, 1] (not clamped).
 */
export async function superResolveCanvas(models: SRModels, canvas: tf.Tensor4D, cond: Conditioning, p: SamplingParams, sched: SamplerSchedules, opts: CanvasRunOptions): Promise<tf.Tensor4D> {
  throwIfAborted(opts.signal);
  const initLatent = await encodeInitLatent(models, canvas, opts.noise);
  let samples: tf.Tensor4D;
  try {
    samples = await sampleFromLatent(models, initLatent, cond, p, sched, opts);
  } finally {
    initLatent.dispose();
  }
  throwIfAborted(opts.signal);
  let decoded: tf.Tensor4D;
  try {
    opts.onProgress?.({ stage: 'decode', done: 0, total: 1 });
    decoded = await decodeSamples(models, samples, canvas, opts.fidelity);
    opts.onProgress?.({ stage: 'decode', done: 1, total: 1 });
  } finally {
    samples.dispose();
  }
  try {
    return applyColorFix(opts.colorFix, decoded, canvas);
  } finally {
    decoded.dispose();
  }
}

export interface SuperResolveOptions extends CanvasRunOptions {
  /** Target magnification (`--upscale`, default 4). */
  upscale: number;
  /** Model input size in pixels (`--input_size`: 512 or 768); small inputs are first upscaled to it. */
  inputSize: number;
  /** Pixel patches (`--vqgantile_size`, `--vqgantile_stride`) for canvases above the patch size. */
  patchSize: number;
  patchStride: number;
  /** How overlapping pixel patches are averaged: `uniform` (DDPM script) or `gaussian` (DDIM script). */
  patchBlend: 'uniform' | 'gaussian';
}

/**
 * The whole canvas-script pipeline on an LR image (NHWC in [-1, 1]): bicubic upscale + reflect pad,
 * pixel patches of at most `patchSize` (each sampled, decoded and colour-fixed on its own, then averaged),
 * post-processing (downscale when the input was upscaled beyond `upscale`, crop). Returns NHWC in [0, 1].
 */
export async function superResolve(models: SRModels, lr: tf.Tensor4D, cond: Conditioning, p: SamplingParams, opts: SuperResolveOptions & { schedule: ScheduleParams }): Promise<{ image: tf.Tensor4D; geometry: CanvasGeometry }> {
  checkTiling(p);
  const sched = buildSchedules(opts.schedule, p.sampler, p.steps, p.eta);
  const { image: canvas, geometry } = preprocessCanvas(lr, opts.inputSize, opts.upscale);
  try {
    const [b, hp, wp, c] = canvas.shape;
    let fixed: tf.Tensor4D;
    if (hp <= opts.patchSize && wp <= opts.patchSize) {
      fixed = await superResolveCanvas(models, canvas, cond, p, sched, opts);
    } else {
      const plan = imagePatchPlan(hp, wp, opts.patchSize, opts.patchStride);
      let acc: tf.Tensor4D = tf.zeros([b, hp, wp, c]);
      let count: tf.Tensor4D = tf.zeros([1, hp, wp, 1]);
      try {
        for (let i = 0; i < plan.length; i++) {
          const q = plan[i]!;
          const patch = tf.slice(canvas, [0, q.y0, q.x0, 0], [b, q.h, q.w, c]);
          let out: tf.Tensor4D;
          try {
            out = await superResolveCanvas(models, patch, cond, p, sched, opts);
          } finally {
            patch.dispose();
          }
          const [nextAcc, nextCount] = tf.tidy(() => {
            const wgt = opts.patchBlend === 'gaussian' ? tf.tensor4d(Float32Array.from(gaussianTileWeights(q.w, q.h)), [1, q.h, q.w, 1]) : tf.ones([1, q.h, q.w, 1]);
            const pads: [number, number][] = [[0, 0], [q.y0, hp - q.y0 - q.h], [q.x0, wp - q.x0 - q.w], [0, 0]];
            return [tf.add(acc, tf.pad(tf.mul(out, wgt), pads)) as tf.Tensor4D, tf.add(count, tf.pad(wgt, pads)) as tf.Tensor4D];
          });
          out.dispose();
          tf.dispose([acc, count]);
          acc = nextAcc;
          count = nextCount;
          opts.onProgress?.({ stage: 'patch', done: i + 1, total: plan.length, detail: { y0: q.y0, x0: q.x0 } });
        }
        fixed = tf.div(acc, count);
      } finally {
        tf.dispose([acc, count]);
      }
    }
    try {
      return { image: postprocessCanvas(fixed, geometry), geometry };
    } finally {
      fixed.dispose();
    }
  } finally {
    canvas.dispose();
  }
}
