import * as tf from '@tensorflow/tfjs-core';
import { type NoiseSource, type ProgressCallback, imagePatchPlan, throwIfAborted } from '@stablesr/core';
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
import { canvasWindow } from './canvasWindow.js';
import { type CanvasColumns, type PatchBlend, PatchBlender } from './patchBlender.js';
import { type CanvasGeometry, canvasGeometry, postprocessCanvas, postprocessSize, preprocessCanvas } from './preprocess.js';
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
  patchBlend: PatchBlend;
}

/**
 * Canvases above the patch size, patch by patch (README 7.13, `ImageSpliterTh`): every patch's canvas window is
 * computed from the LR image ({@link canvasWindow}), sampled, decoded and colour-fixed on its own
 * ({@link superResolveCanvas}), downloaded and blended on the host ({@link PatchBlender}), which hands finished
 * columns (canvas values in [-1, 1]) to `emit`. The backend never holds more than one patch's working set.
 */
async function superResolvePatches(
  models: SRModels,
  lr: tf.Tensor4D,
  g: CanvasGeometry,
  cond: Conditioning,
  p: SamplingParams,
  sched: SamplerSchedules,
  opts: SuperResolveOptions,
  emit: (cols: CanvasColumns) => void,
): Promise<void> {
  const b = lr.shape[0];
  const c = lr.shape[3];
  const hp = g.oriH + g.padH;
  const wp = g.oriW + g.padW;
  const plan = imagePatchPlan(hp, wp, opts.patchSize, opts.patchStride);
  const blender = new PatchBlender(b, hp, wp, c, plan, opts.patchBlend, emit);
  for (let i = 0; i < plan.length; i++) {
    const q = plan[i]!;
    const patch = canvasWindow(lr, g, q);
    let out: tf.Tensor4D;
    try {
      out = await superResolveCanvas(models, patch, cond, p, sched, opts);
    } finally {
      patch.dispose();
    }
    let data: Float32Array;
    try {
      data = await out.data<'float32'>();
    } finally {
      out.dispose();
    }
    blender.add(data);
    opts.onProgress?.({ stage: 'patch', done: i + 1, total: plan.length, detail: { y0: q.y0, x0: q.x0 } });
  }
}

const fitsOnePatch = (g: CanvasGeometry, o: Pick<SuperResolveOptions, 'patchSize'>) => g.oriH + g.padH <= o.patchSize && g.oriW + g.padW <= o.patchSize;

/**
 * The whole canvas-script pipeline on an LR image (NHWC in [-1, 1]): bicubic upscale + reflect pad,
 * pixel patches of at most `patchSize` (each sampled, decoded and colour-fixed on its own, then averaged),
 * post-processing (downscale when the input was upscaled beyond `upscale`, crop). Returns NHWC in [0, 1].
 * The result is one tensor of the output's size; {@link superResolveStrips} keeps large outputs off the backend.
 */
export async function superResolve(models: SRModels, lr: tf.Tensor4D, cond: Conditioning, p: SamplingParams, opts: SuperResolveOptions & { schedule: ScheduleParams }): Promise<{ image: tf.Tensor4D; geometry: CanvasGeometry }> {
  checkTiling(p);
  const sched = buildSchedules(opts.schedule, p.sampler, p.steps, p.eta);
  const [b, h, w, c] = lr.shape;
  const geometry = canvasGeometry(h, w, opts.inputSize, opts.upscale);
  let fixed: tf.Tensor4D;
  if (fitsOnePatch(geometry, opts)) {
    const { image: canvas } = preprocessCanvas(lr, opts.inputSize, opts.upscale);
    try {
      fixed = await superResolveCanvas(models, canvas, cond, p, sched, opts);
    } finally {
      canvas.dispose();
    }
  } else {
    const hp = geometry.oriH + geometry.padH;
    const wp = geometry.oriW + geometry.padW;
    const all = new Float32Array(b * hp * wp * c);
    await superResolvePatches(models, lr, geometry, cond, p, sched, opts, ({ x0, width, data }) => {
      for (let r = 0; r < b * hp; r++) all.set(data.subarray(r * width * c, (r + 1) * width * c), (r * wp + x0) * c);
    });
    fixed = tf.tensor4d(all, [b, hp, wp, c]);
  }
  try {
    return { image: postprocessCanvas(fixed, geometry), geometry };
  } finally {
    fixed.dispose();
  }
}

/** Output columns `[x0, x0 + width)` of {@link superResolveStrips}: NHWC `[batch, height, width, C]` in [0, 1], row-major. */
export interface OutputStrip {
  x0: number;
  width: number;
  height: number;
  data: Float32Array;
}

/**
 * {@link superResolve} delivering the output as column strips (left to right) instead of one tensor, for
 * images above the patch size: patch outputs are blended on the host and post-processed
 * (`clamp((x + 1)/2, 0, 1)`, crop) column by column, so neither the upscaled canvas nor the output is ever
 * whole, in the backend or on the host; the caller decides where the strips go (e.g. straight into 8-bit
 * samples). Canvases within one patch, and inputs upscaled beyond `upscale` (their output is a bicubic
 * downscale of the whole canvas, at most `inputSize` + 32 pixels on its short side), come as one strip.
 * Returns the output size.
 */
export async function superResolveStrips(
  models: SRModels,
  lr: tf.Tensor4D,
  cond: Conditioning,
  p: SamplingParams,
  opts: SuperResolveOptions & { schedule: ScheduleParams },
  write: (strip: OutputStrip) => void,
): Promise<{ height: number; width: number; geometry: CanvasGeometry }> {
  const [b, h, w, c] = lr.shape;
  const g = canvasGeometry(h, w, opts.inputSize, opts.upscale);
  if (fitsOnePatch(g, opts) || g.upsampleScale > g.upscale) {
    const { image } = await superResolve(models, lr, cond, p, opts);
    try {
      const [, oh, ow] = image.shape;
      write({ x0: 0, width: ow, height: oh, data: await image.data<'float32'>() });
      return { height: oh, width: ow, geometry: g };
    } finally {
      image.dispose();
    }
  }
  checkTiling(p);
  const sched = buildSchedules(opts.schedule, p.sampler, p.steps, p.eta);
  const hp = g.oriH + g.padH;
  const [oh, ow] = postprocessSize(hp, g.oriW + g.padW, g);
  await superResolvePatches(models, lr, g, cond, p, sched, opts, ({ x0, width, data }) => {
    const x1 = Math.min(x0 + width, ow);
    if (x1 <= x0) return;
    const sw = x1 - x0;
    const out = new Float32Array(b * oh * sw * c);
    for (let bb = 0; bb < b; bb++) {
      for (let y = 0; y < oh; y++) {
        const src = (bb * hp + y) * width * c;
        const dst = (bb * oh + y) * sw * c;
        // postprocessCanvas without the downscale: clamp((x + 1) / 2, 0, 1) in float32.
        for (let k = 0; k < sw * c; k++) {
          const v = Math.fround(Math.fround(data[src + k]! + 1) / 2);
          out[dst + k] = v > 1 ? 1 : v >= 0 ? v : 0;
        }
      }
    }
    write({ x0, width: sw, height: oh, data: out });
  });
  return { height: oh, width: ow, geometry: g };
}
