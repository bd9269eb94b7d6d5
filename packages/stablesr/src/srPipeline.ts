import * as tf from '@tensorflow/tfjs-core';
import { type NoiseSource, type ProgressCallback, type WindowEvaluator, evaluateTiled, throwIfAborted } from '@stablesr/core';
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
import { type Conditioning, windowEvaluator } from './guidedDenoiser.js';
import { canvasWindow } from './canvasWindow.js';
import { PatchBlender } from './patchBlender.js';
import { PatchAssembly } from './patchAssembly.js';
import { type PatchNoise } from './patchNoise.js';
import { type CanvasGeometry, postprocessCanvas, preprocessCanvas, preprocessCenterCrop, toUnitRange } from './preprocess.js';
import { type LatentPosterior, type SRModels, disposePosterior } from './srModels.js';
import { type SRPlan, latentFitsOneTile, planSuperResolve } from './srPlan.js';
import { type InitialLatentRule, type SRRecipe, type SamplerKind, canvasRecipe } from './srRecipe.js';

export type { SamplerKind } from './srRecipe.js';

/** Noise schedule of the diffusion model (`linear_start`, `linear_end`, `timesteps` of the YAML). */
export interface ScheduleParams {
  linearStart: number;
  linearEnd: number;
  timesteps: number;
}

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

/**
 * Receives the pipeline's intermediate tensors under the reference's variable names (`image_preprocessed`,
 * `init_latent`, `enc_fea.<i>`, `x_T`, `x_T_discarded`, `samples`, `decoded`, `colorfixed`), NHWC. The tensor
 * stays the pipeline's: clone what you keep. For inspection and the golden fixtures; it does not change the run.
 */
export type PipelineTrace = (name: string, t: tf.Tensor4D) => void;

/** `scale_factor · (mean + std · noise)`: a posterior sample in the diffusion model's latent scale. */
export function sampleLatent(p: LatentPosterior, scaleFactor: number, noise: NoiseSource): tf.Tensor4D {
  const z = noise.draw(p.mean.shape, 'posterior');
  try {
    return tf.tidy(() => tf.mul(tf.add(p.mean, tf.mul(p.std, z)), scaleFactor) as tf.Tensor4D);
  } finally {
    z.dispose();
  }
}

/** The init latent, and the CFW features when the same encode gave them. */
export interface EncodedInput {
  initLatent: tf.Tensor4D;
  /** `enc_fea` of the CFW encoder, from the call that gave the init latent (plain scripts). */
  encFea?: tf.Tensor4D[];
}

/**
 * `init_latent` as the recipe's script computes it (README 7.12 step 3, 7.13 step 3): from the CFW encoder
 * (`vq_model.encode`, keeping its features) or from the first stage (`get_first_stage_encoding(encode_first_stage(image))`).
 */
export async function encodeInitLatent(models: SRModels, image: tf.Tensor4D, noise: NoiseSource, from: SRRecipe['initLatentFrom'] = 'firstStage'): Promise<EncodedInput> {
  if (from === 'cfw' && models.cfw) {
    const { posterior, encFea } = await models.cfw.encode(image);
    try {
      return { initLatent: sampleLatent(posterior, models.scaleFactor, noise), encFea };
    } catch (e) {
      tf.dispose(encFea);
      throw e;
    } finally {
      disposePosterior(posterior);
    }
  }
  const p = await models.encodeFirstStage(image);
  try {
    return { initLatent: sampleLatent(p, models.scaleFactor, noise) };
  } finally {
    disposePosterior(p);
  }
}

/** x_T = q_sample(init_latent, T − 1) on the full schedule (`model_ori.q_sample` of the canvas scripts). */
export function noisedLatent(full: DiffusionSchedule, initLatent: tf.Tensor4D, noise: tf.Tensor): tf.Tensor4D {
  const t = Array<number>(initLatent.shape[0]).fill(full.numTimesteps - 1);
  return qSample(full, initLatent, noise, t) as tf.Tensor4D;
}

/**
 * x_T by the recipe's rule ({@link InitialLatentRule}): `noised` draws `x_T` and noises the init latent;
 * `noise` draws the script's dropped q_sample noise (`discarded`), then `x_T` of the init latent's shape.
 */
export function initialLatent(rule: InitialLatentRule, full: DiffusionSchedule, initLatent: tf.Tensor4D, noise: NoiseSource, trace?: PipelineTrace): tf.Tensor4D {
  if (rule === 'noised') {
    const z = noise.draw(initLatent.shape, 'x_T');
    try {
      const xT = noisedLatent(full, initLatent, z);
      trace?.('x_T', xT);
      return xT;
    } finally {
      z.dispose();
    }
  }
  const dropped = noise.draw(initLatent.shape, 'discarded');
  if (trace) {
    const d = noisedLatent(full, initLatent, dropped);
    trace('x_T_discarded', d);
    d.dispose();
  }
  dropped.dispose();
  return noise.draw(initLatent.shape, 'x_T') as tf.Tensor4D;
}

export interface SampleOptions {
  noise: NoiseSource;
  onStep?: SamplerStepCallback;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
  trace?: PipelineTrace;
  /** Each raw U-Net output (2B rows when guided), disposed after the callback returns. */
  onModelOutput?: (raw: tf.Tensor4D) => void;
}

/**
 * The denoiser handed to the samplers: the whole latent at once, or tiles with Gaussian blending when
 * the latent is larger than a tile. The LR latent conditions the time-aware encoder at the network timestep.
 */
export function srDenoiser(evaluate: WindowEvaluator, lrLatent: tf.Tensor4D, p: Pick<SamplingParams, 'tileSize' | 'tileOverlap'>, opts: Pick<SampleOptions, 'onProgress' | 'signal'> = {}) {
  return (x: tf.Tensor4D, at: { t: number }): Promise<tf.Tensor4D> => {
    const [, h, w] = x.shape;
    if (latentFitsOneTile(h, w, p.tileSize)) return evaluate(x, lrLatent, at.t);
    return evaluateTiled(evaluate, x, lrLatent, at.t, { tileSize: p.tileSize, tileOverlap: p.tileOverlap, onProgress: opts.onProgress, signal: opts.signal });
  };
}

/**
 * Runs the sampler from the LR latent. x_T by `xT` (default: the canvas script's rule for the sampler, DDPM
 * `noised`, DDIM `noise`); see {@link initialLatent}.
 */
export async function sampleFromLatent(models: SRModels, initLatent: tf.Tensor4D, cond: Conditioning, p: SamplingParams, sched: SamplerSchedules, opts: SampleOptions & { xT?: InitialLatentRule }): Promise<tf.Tensor4D> {
  checkTiling(p);
  if (p.sampler === 'ddpm' ? !sched.ddpm : !sched.ddim) throw new Error(`sampleFromLatent: ${p.sampler} schedule missing`);
  const evaluate = windowEvaluator(models, cond, opts.onModelOutput);
  const denoise = srDenoiser(evaluate, initLatent, p, opts);
  const total = p.steps;
  const onStep: SamplerStepCallback = async (e) => {
    await opts.onStep?.(e);
    opts.onProgress?.({ stage: 'sample', done: e.k + 1, total, detail: { t: e.t } });
  };
  const common = { noise: opts.noise, parameterization: p.parameterization, signal: opts.signal, onStep };
  const xT = initialLatent(opts.xT ?? canvasRecipe(p.sampler).xT, sched.full, initLatent, opts.noise, opts.trace);
  try {
    return p.sampler === 'ddpm' ? await sampleDdpm(denoise, xT, sched.ddpm!, common) : await sampleDdim(denoise, xT, sched.ddim!, { ...common, vX0: 'viaEps' });
  } finally {
    xT.dispose();
  }
}

export function checkTiling(p: Pick<SamplingParams, 'tileSize' | 'tileOverlap'>): void {
  if (!Number.isInteger(p.tileSize) || p.tileSize < 1) throw new Error(`tileSize must be a positive integer (latent pixels), got ${p.tileSize}`);
  if (!Number.isInteger(p.tileOverlap) || p.tileOverlap < 0) throw new Error(`tileOverlap must be a non-negative integer, got ${p.tileOverlap}`);
  if (p.tileOverlap >= p.tileSize) throw new Error(`tileOverlap (${p.tileOverlap}) must be smaller than tileSize (${p.tileSize})`);
}

/** `vq_model.decode(samples / scale_factor, enc_fea)` with `fusion_w = fidelity`; the first-stage decoder without a CFW model. */
export async function decodeLatent(models: SRModels, samples: tf.Tensor4D, encFea: readonly tf.Tensor4D[] | undefined, fidelity: number): Promise<tf.Tensor4D> {
  const z = tf.div(samples, models.scaleFactor) as tf.Tensor4D;
  try {
    return models.cfw && encFea ? await models.cfw.decode(z, encFea, fidelity) : await models.decodeFirstStage(z);
  } finally {
    z.dispose();
  }
}

/** The CFW encoder's features of the (pre-processed) image, its posterior dropped (README 7.13 step 6); none without a CFW model. */
export async function encoderFeatures(models: SRModels, image: tf.Tensor4D): Promise<tf.Tensor4D[] | undefined> {
  if (!models.cfw) return undefined;
  const { posterior, encFea } = await models.cfw.encode(image);
  disposePosterior(posterior);
  return encFea;
}

/** {@link decodeLatent} with `enc_fea` from a fresh CFW encode of `image` (the canvas scripts). */
export async function decodeSamples(models: SRModels, samples: tf.Tensor4D, image: tf.Tensor4D, fidelity: number): Promise<tf.Tensor4D> {
  const encFea = await encoderFeatures(models, image);
  try {
    return await decodeLatent(models, samples, encFea, fidelity);
  } finally {
    if (encFea) tf.dispose(encFea);
  }
}

/** Pipeline output in [0, 1] from a colour-fixed image in [-1, 1]: the canvas post-processing, or the plain scripts' `clamp((x + 1)/2)`. */
export function postprocessOutput(plan: Pick<SRPlan, 'geometry'>, fixed: tf.Tensor4D): tf.Tensor4D {
  return plan.geometry ? postprocessCanvas(fixed, plan.geometry) : toUnitRange(fixed);
}

export interface CanvasRunOptions extends SampleOptions {
  fidelity: number;
  colorFix: ColorFixKind;
}

/**
 * One model-input window (the centre crop, a canvas, or one pixel patch of it; NHWC in [-1, 1]) through the
 * recipe: encode, x_T, sample, CFW decode, colour fix against the window. Returns the fixed image in [-1, 1] (not clamped).
 */
export async function superResolveWindow(models: SRModels, image: tf.Tensor4D, cond: Conditioning, recipe: SRRecipe, p: SamplingParams, sched: SamplerSchedules, opts: CanvasRunOptions): Promise<tf.Tensor4D> {
  throwIfAborted(opts.signal);
  opts.trace?.('image_preprocessed', image);
  const enc = await encodeInitLatent(models, image, opts.noise, recipe.initLatentFrom);
  let samples: tf.Tensor4D;
  let encFea = enc.encFea;
  try {
    opts.trace?.('init_latent', enc.initLatent);
    if (!encFea && recipe.initLatentFrom === 'cfw') encFea = await encoderFeatures(models, image);
    samples = await sampleFromLatent(models, enc.initLatent, cond, p, sched, { ...opts, xT: recipe.xT });
  } catch (e) {
    if (encFea) tf.dispose(encFea);
    throw e;
  } finally {
    enc.initLatent.dispose();
  }
  let decoded: tf.Tensor4D;
  try {
    throwIfAborted(opts.signal);
    opts.trace?.('samples', samples);
    // The canvas scripts encode the image a second time, noise-free, for the decoder's features.
    encFea ??= await encoderFeatures(models, image);
    encFea?.forEach((t, i) => opts.trace?.(`enc_fea.${i}`, t));
    opts.onProgress?.({ stage: 'decode', done: 0, total: 1 });
    decoded = await decodeLatent(models, samples, encFea, opts.fidelity);
    opts.onProgress?.({ stage: 'decode', done: 1, total: 1 });
  } finally {
    samples.dispose();
    if (encFea) tf.dispose(encFea);
  }
  try {
    opts.trace?.('decoded', decoded);
    const fixed = applyColorFix(opts.colorFix, decoded, image);
    opts.trace?.('colorfixed', fixed);
    return fixed;
  } finally {
    decoded.dispose();
  }
}

export interface SuperResolveOptions extends CanvasRunOptions {
  /** Which official script to follow (default: the canvas script of `sampler`, as `StableSR.upscale`). Its sampler must be `sampler`'s. */
  recipe?: SRRecipe;
  /** Target magnification (`--upscale`, default 4; canvas layout). */
  upscale: number;
  /** Model input size in pixels (`--input_size`: 512 or 768); small inputs are first upscaled to it. */
  inputSize: number;
  /** Pixel patches (`--vqgantile_size`, `--vqgantile_stride`) for canvases above the patch size. */
  patchSize: number;
  patchStride: number;
  /**
   * The noise of each pixel patch of a multi-patch plan (e.g. {@link seededPatchNoise}: patches computable
   * anywhere, see {@link patchSeed}). Default: `noise`, one stream drawn through the patches in plan order (the
   * recorded draws of the reference).
   */
  patchNoise?: PatchNoise;
}

type RunOptions = SuperResolveOptions & { schedule: ScheduleParams };

/** The options of {@link SuperResolveOptions} that shape the plan (not the networks' inputs). */
export type SuperResolveRun = Omit<SuperResolveOptions, keyof CanvasRunOptions>;

function recipeOf(p: SamplingParams, opts: Pick<SuperResolveOptions, 'recipe'>): SRRecipe {
  const recipe = opts.recipe ?? canvasRecipe(p.sampler);
  if (recipe.sampler !== p.sampler) throw new Error(`recipe ${recipe.name} runs sampler "${recipe.sampler}", not "${p.sampler}"`);
  return recipe;
}

/** The plan {@link superResolve} runs for an LR image of `h × w` with these settings. */
export function planFor(models: Pick<SRModels, 'downsampling' | 'unetDownFactor'>, h: number, w: number, p: SamplingParams, opts: SuperResolveRun): SRPlan {
  return planSuperResolve(h, w, models, recipeOf(p, opts), { ...opts, steps: p.steps, tileSize: p.tileSize, tileOverlap: p.tileOverlap });
}

/** The sampling parameters with the plan's tile in place of the requested one. */
const planned = (p: SamplingParams, plan: SRPlan): SamplingParams => ({ ...p, tileSize: plan.tileSize, tileOverlap: plan.tileOverlap });

/**
 * Pixel patch `index` of a multi-patch plan (README 7.13, `ImageSpliterTh`): its canvas window computed from the LR
 * image ({@link canvasWindow}), sampled, decoded and colour-fixed on its own ({@link superResolveWindow}) with
 * `noise`, and downloaded: NHWC `[batch, h, w, C]` in [-1, 1], ready for {@link PatchAssembly}. Patches are
 * independent, so any process holding the same models computes the same values for the same noise.
 */
export async function superResolvePatch(models: SRModels, lr: tf.Tensor4D, plan: SRPlan, index: number, cond: Conditioning, p: SamplingParams, sched: SamplerSchedules, opts: CanvasRunOptions): Promise<Float32Array> {
  const q = plan.patches[index];
  if (!q || !plan.geometry) throw new Error(`superResolvePatch: patch ${index} is not in the plan (${plan.patches.length} patches${plan.geometry ? '' : ', not a canvas plan'})`);
  const patch = canvasWindow(lr, plan.geometry, q);
  let out: tf.Tensor4D;
  try {
    out = await superResolveWindow(models, patch, cond, plan.recipe, planned(p, plan), sched, opts);
  } finally {
    patch.dispose();
  }
  try {
    return await out.data<'float32'>();
  } finally {
    out.dispose();
  }
}

/**
 * Canvases above the patch size, patch by patch: each {@link superResolvePatch} (with `patchNoise(i)` when given,
 * else the one `noise` stream), handed to `add` in plan order. The backend never holds more than one patch's working set.
 */
async function superResolvePatches(models: SRModels, lr: tf.Tensor4D, plan: SRPlan, cond: Conditioning, p: SamplingParams, sched: SamplerSchedules, opts: SuperResolveOptions, add: (data: Float32Array) => void): Promise<void> {
  for (let i = 0; i < plan.patches.length; i++) {
    const q = plan.patches[i]!;
    add(await superResolvePatch(models, lr, plan, i, cond, p, sched, { ...opts, noise: opts.patchNoise?.(i) ?? opts.noise }));
    opts.onProgress?.({ stage: 'patch', done: i + 1, total: plan.patches.length, detail: { y0: q.y0, x0: q.x0 } });
  }
}

/** The model input of a one-window plan: the centre crop or the whole canvas. */
function preprocessInput(lr: tf.Tensor4D, plan: SRPlan, opts: Pick<SuperResolveOptions, 'inputSize' | 'upscale'>): tf.Tensor4D {
  if (plan.recipe.layout === 'centerCrop') return preprocessCenterCrop(lr, opts.inputSize, { clamp: plan.recipe.clampInput });
  return preprocessCanvas(lr, opts.inputSize, opts.upscale).image;
}

/**
 * The whole pipeline of a recipe on an LR image (NHWC in [-1, 1]). Canvas scripts: bicubic upscale + reflect pad,
 * pixel patches of at most `patchSize` (each sampled, decoded and colour-fixed on its own, then averaged),
 * post-processing (downscale when the input was upscaled beyond `upscale`, crop). Plain scripts: resize + centre
 * crop to `inputSize`, one window. Returns NHWC in [0, 1], one tensor of the output's size;
 * {@link superResolveStrips} keeps large outputs off the backend.
 */
export async function superResolve(models: SRModels, lr: tf.Tensor4D, cond: Conditioning, p: SamplingParams, opts: RunOptions): Promise<{ image: tf.Tensor4D; plan: SRPlan; geometry?: CanvasGeometry }> {
  checkTiling(p);
  const [b, h, w, c] = lr.shape;
  const plan = planFor(models, h, w, p, opts);
  const sched = buildSchedules(opts.schedule, p.sampler, p.steps, p.eta);
  let fixed: tf.Tensor4D;
  if (plan.patches.length === 1) {
    const input = preprocessInput(lr, plan, opts);
    try {
      fixed = await superResolveWindow(models, input, cond, plan.recipe, planned(p, plan), sched, opts);
    } finally {
      input.dispose();
    }
  } else {
    const hp = plan.inputHeight;
    const wp = plan.inputWidth;
    const all = new Float32Array(b * hp * wp * c);
    const blender = new PatchBlender(b, hp, wp, c, plan.patches, plan.recipe.patchBlend, ({ x0, width, data }) => {
      for (let r = 0; r < b * hp; r++) all.set(data.subarray(r * width * c, (r + 1) * width * c), (r * wp + x0) * c);
    });
    await superResolvePatches(models, lr, plan, cond, p, sched, opts, (data) => blender.add(data));
    fixed = tf.tensor4d(all, [b, hp, wp, c]);
  }
  try {
    return { image: postprocessOutput(plan, fixed), plan, ...(plan.geometry ? { geometry: plan.geometry } : {}) };
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
 * images above the patch size: each {@link superResolvePatch} goes into a {@link PatchAssembly}, which blends on
 * the host and post-processes (`clamp((x + 1)/2, 0, 1)`, crop) column by column, so neither the upscaled canvas
 * nor the output is ever whole, in the backend or on the host; the caller decides where the strips go (e.g.
 * straight into 8-bit samples). One-window plans, and inputs upscaled beyond `upscale` (their output is a bicubic
 * downscale of the whole canvas, at most `inputSize` + 32 pixels on its short side), come as one strip.
 * Returns the output size and the plan that ran.
 */
export async function superResolveStrips(
  models: SRModels,
  lr: tf.Tensor4D,
  cond: Conditioning,
  p: SamplingParams,
  opts: RunOptions,
  write: (strip: OutputStrip) => void,
): Promise<{ height: number; width: number; plan: SRPlan }> {
  const [b, h, w, c] = lr.shape;
  const plan = planFor(models, h, w, p, opts);
  if (plan.patches.length === 1) {
    const { image } = await superResolve(models, lr, cond, p, opts);
    try {
      const [, oh, ow] = image.shape;
      write({ x0: 0, width: ow, height: oh, data: await image.data<'float32'>() });
      return { height: oh, width: ow, plan };
    } finally {
      image.dispose();
    }
  }
  checkTiling(p);
  const sched = buildSchedules(opts.schedule, p.sampler, p.steps, p.eta);
  const assembly = new PatchAssembly(plan, b, c, write);
  await superResolvePatches(models, lr, plan, cond, p, sched, opts, (data) => assembly.add(data));
  const size = await assembly.finish();
  return { ...size, plan };
}
