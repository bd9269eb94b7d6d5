import * as tf from '@tensorflow/tfjs-core';
import { type NoiseSource, type ProgressCallback, SeededNoise, throwIfAborted } from '@stablesr/core';
import { getSampler } from '../samplers/registry.js';
import { type Parameterization, type SamplerStepCallback } from '../samplers/types.js';
import { type DiffusionSchedule, registerSchedule } from '../schedule/registerSchedule.js';
import { type ConditionedUNet, type RawOutputCallback, type PromptEncoder, guidedDenoiser } from './guidance.js';

/** SD-2.x `scripts/txt2img.py` defaults. */
export const TXT2IMG_DEFAULTS = {
  steps: 50,
  sampler: 'ddim',
  eta: 0,
  guidanceScale: 9,
  width: 512,
  height: 512,
  latentChannels: 4,
  downsampleFactor: 8,
  scaleFactor: 0.18215,
} as const;

export interface GenerateLatentsOptions {
  unet: ConditionedUNet;
  /** What the network predicts (SD-2.x 768-v: `v`; 512-base: `eps`). Default `eps`. */
  parameterization?: Parameterization;
  /** Encodes prompts when no precomputed context is given. */
  text?: PromptEncoder;
  /** One prompt per sample, or one for all `batchSize` samples. */
  prompt?: string | string[];
  /** Prompt of the unconditional branch (default "": txt2img's `B × [""]`). */
  negativePrompt?: string | string[];
  /** Precomputed conditional context [B, tokens, width] (instead of `text` + `prompt`); stays owned by the caller. */
  context?: tf.Tensor3D;
  /** Precomputed unconditional context (instead of `text` + `negativePrompt`); stays owned by the caller. */
  uncondContext?: tf.Tensor3D;
  /** Classifier-free guidance scale; 1 = no guidance batch. Default 9. */
  guidanceScale?: number;
  steps?: number;
  /** `ddpm`, `ddim` (default), `dpmpp-2m`, `euler-a`. */
  sampler?: string;
  /** DDIM / Euler-ancestral η. */
  eta?: number;
  /** Image size in pixels; must be multiples of `downsampleFactor`. */
  width?: number;
  height?: number;
  /** Samples; default = number of prompts (or the context's rows). */
  batchSize?: number;
  latentChannels?: number;
  downsampleFactor?: number;
  /** Full diffusion schedule; default SD's linear 0.00085 → 0.012 over 1000 steps. */
  schedule?: DiffusionSchedule;
  /** Seed for x_T and step noise when no `noise` is given. */
  seed?: number;
  /** Source of x_T (first draw, `x_T`) and per-step noise (`step`). */
  noise?: NoiseSource;
  /** First-stage decode of z (already divided by `scaleFactor`), NHWC image in [−1, 1]. */
  decode?: (z: tf.Tensor4D) => tf.Tensor4D | Promise<tf.Tensor4D>;
  scaleFactor?: number;
  onStep?: SamplerStepCallback;
  onProgress?: ProgressCallback;
  onModelOutput?: RawOutputCallback;
  signal?: AbortSignal;
}

export interface GenerateLatentsResult {
  /** Final latents [B, H/f, W/f, C] (NHWC). */
  latents: tf.Tensor4D;
  /** `decode(latents / scaleFactor)` when a decoder was given. */
  decoded?: tf.Tensor4D;
  /** `clamp((decoded + 1)/2, 0, 1)`. */
  image?: tf.Tensor4D;
}

function asList(p: string | string[] | undefined, n: number, what: string): string[] {
  const list = p === undefined ? [''] : typeof p === 'string' ? [p] : p;
  if (list.length === n) return list;
  if (list.length === 1) return new Array<string>(n).fill(list[0]!);
  throw new Error(`${what}: ${list.length} prompts for a batch of ${n}`);
}

function positiveInt(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${what} must be a positive integer, got ${v}`);
  return v;
}

/**
 * Text-to-latent generation as SD-2.x `txt2img.py`: context from the prompts, x_T drawn from the noise
 * source, the chosen sampler with classifier-free guidance, then the optional first-stage decode.
 */
export async function generateLatents(opts: GenerateLatentsOptions): Promise<GenerateLatentsResult> {
  const d = TXT2IMG_DEFAULTS;
  const steps = positiveInt(opts.steps ?? d.steps, 'steps');
  const f = positiveInt(opts.downsampleFactor ?? d.downsampleFactor, 'downsampleFactor');
  const width = positiveInt(opts.width ?? d.width, 'width');
  const height = positiveInt(opts.height ?? d.height, 'height');
  if (width % f || height % f) throw new Error(`width ${width} and height ${height} must be multiples of the VAE downsampling factor ${f}`);
  const channels = positiveInt(opts.latentChannels ?? d.latentChannels, 'latentChannels');
  const scale = opts.guidanceScale ?? d.guidanceScale;
  const sampler = getSampler(opts.sampler ?? d.sampler);
  const schedule = opts.schedule ?? registerSchedule();
  const sf = opts.scaleFactor ?? d.scaleFactor;

  const owned: tf.Tensor[] = [];
  try {
    const promptCount = opts.context ? opts.context.shape[0] : typeof opts.prompt === 'string' || opts.prompt === undefined ? 1 : opts.prompt.length;
    const B = positiveInt(opts.batchSize ?? promptCount, 'batchSize');
    let cond = opts.context;
    if (!cond) {
      if (!opts.text) throw new Error('generateLatents: give either `context` or a `text` conditioner and a `prompt`');
      cond = await opts.text.encode(asList(opts.prompt, B, 'prompt'));
      owned.push(cond);
    }
    if (cond.shape[0] !== B) throw new Error(`context has ${cond.shape[0]} rows for batchSize ${B}`);
    let uncond: tf.Tensor3D | undefined;
    if (scale !== 1) {
      uncond = opts.uncondContext;
      if (!uncond) {
        if (!opts.text) throw new Error('generateLatents: guidance needs `uncondContext` or a `text` conditioner');
        uncond = await opts.text.encode(asList(opts.negativePrompt, B, 'negativePrompt'));
        owned.push(uncond);
      }
    }
    throwIfAborted(opts.signal);

    const noise = opts.noise ?? new SeededNoise(opts.seed ?? Math.floor(Math.random() * 2 ** 31));
    const xT = noise.draw([B, height / f, width / f, channels], 'x_T') as tf.Tensor4D;
    owned.push(xT);
    const denoise = guidedDenoiser(opts.unet, cond, uncond, scale, opts.onModelOutput);
    const latents = await sampler.sample(denoise, xT, schedule, steps, {
      parameterization: opts.parameterization ?? 'eps',
      noise,
      eta: opts.eta ?? d.eta,
      signal: opts.signal,
      onStep: async (e) => {
        if (opts.onStep) await opts.onStep(e);
        opts.onProgress?.({ stage: 'sample', done: e.k + 1, total: e.total, detail: { t: e.t } });
      },
    });
    if (!opts.decode) return { latents };
    try {
      throwIfAborted(opts.signal);
      const z = tf.div(latents, sf) as tf.Tensor4D;
      let decoded: tf.Tensor4D;
      try {
        decoded = await opts.decode(z);
      } finally {
        z.dispose();
      }
      const image = tf.tidy(() => tf.clipByValue(tf.div(tf.add(decoded, 1), 2), 0, 1)) as tf.Tensor4D;
      opts.onProgress?.({ stage: 'decode', done: 1, total: 1 });
      return { latents, decoded, image };
    } catch (e) {
      latents.dispose();
      throw e;
    }
  } finally {
    tf.dispose(owned);
  }
}
