import * as tf from '@tensorflow/tfjs-core';
import { type BackendInfo, type EngineInfo, type Weights, SeededNoise, throwIfAborted } from '@stablesr/core';
import { type Conditioning } from './guidedDenoiser.js';
import { type LoadedStableSR, type StableSRLoadOptions, loadStableSRParts } from './loadStableSR.js';
import { OutputImage } from './outputImage.js';
import { type PromptEncoder } from './promptEncoder.js';
import { type SRModels } from './srModels.js';
import { type SRNetworks } from './srNetworks.js';
import { PatchAssembly } from './patchAssembly.js';
import { seededPatchNoise } from './patchNoise.js';
import { type SRPlan } from './srPlan.js';
import { buildSchedules, planFor, superResolvePatch, superResolveStrips } from './srPipeline.js';
import { type PatchOutput, type UpscalePlan } from './upscalePlan.js';
import { type StableSRConfig } from './stableSRConfig.js';
import { type DecodedInput, type UpscaleInput, decodeInput } from './upscaleInput.js';
import { type ResolvedUpscaleOptions, type UpscaleOptions, resolveUpscaleOptions } from './upscaleOptions.js';
import { instrumentModels } from './upscaleProgress.js';
import { upscaleRun } from './upscaleRun.js';
import { type UpscaleResult } from './upscaleResult.js';

export type { StableSRLoadOptions } from './loadStableSR.js';
export type { UpscaleInput } from './upscaleInput.js';
export type { UpscaleOptions } from './upscaleOptions.js';
export type { UpscaleResult, UpscaleTimings } from './upscaleResult.js';

/**
 * StableSR super-resolution: load once, upscale many images.
 *
 * ```ts
 * const sr = await StableSR.load({ checkpoint: 'stablesr_000117.ckpt', cfw: 'vqgan_cfw_00011.ckpt' });
 * const { image } = await sr.upscale('photo.png', { steps: 50 });
 * sr.dispose();
 * ```
 *
 * The pipeline is the official `_tile` scripts': bicubic upscale to at least the model input size, padding
 * to a multiple of 32, latent tiles with Gaussian blending, CFW decode, colour fix, downscale back.
 */
export class StableSR {
  private disposed = false;
  /** The model configuration in use. */
  readonly config: StableSRConfig;
  /** The tfjs backend in use (the eager engine's, and host math around the networks on every engine). */
  readonly backend: BackendInfo;
  /** The engine that runs the networks: which, its provider (device or tfjs backend) and threads. */
  readonly engine: EngineInfo;
  /** Whether a CFW autoencoder was loaded (otherwise `fidelity` has no effect: the first-stage decoder runs). */
  readonly hasCfw: boolean;
  private readonly nets: SRNetworks;
  private readonly text: PromptEncoder;
  private readonly files: Weights[];

  private constructor(p: LoadedStableSR) {
    this.config = p.config;
    this.backend = p.backend;
    this.engine = p.engine;
    this.hasCfw = p.hasCfw;
    this.nets = p.nets;
    this.text = p.text;
    this.files = p.files;
  }

  /**
   * Initialises the backend, opens the weight files (headers only; tensors are read while building the
   * networks), checks that the checkpoint is a StableSR one, loads U-Net + time-aware encoder + VAE (+ CFW)
   * strictly against the config, and computes the empty-prompt context.
   */
  static async load(opts: StableSRLoadOptions): Promise<StableSR> {
    return new StableSR(await loadStableSRParts(opts));
  }

  /** Where the networks' weights live: `host` (JS memory, uploaded per layer / call) or `backend`. */
  get weights(): 'host' | 'backend' {
    return this.nets.weightsOnHost ? 'host' : 'backend';
  }

  /** The networks as pure functions, for latent-level use with `sampleFromLatent`, `decodeSamples`, … */
  get models(): SRModels {
    this.assertLive();
    return this.nets.models;
  }

  /** `cond_stage_model([prompt])`: `[1, 77, width]`, owned by the caller. */
  promptContext(prompt = ''): Promise<tf.Tensor3D> {
    this.assertLive();
    return this.text.encode(prompt);
  }

  /**
   * Super-resolves one image. Returns 8-bit (or 16-bit) interleaved samples, RGB or RGBA when the input had alpha.
   * Grayscale input is processed as RGB. Throws on bad options (naming the option), on `signal` abort
   * (`AbortError`), and on unreadable input (naming it). No tensor outlives the call.
   */
  async upscale(input: UpscaleInput, options: UpscaleOptions = {}): Promise<UpscaleResult> {
    this.assertLive();
    const t0 = performance.now();
    const o = this.resolveOptions(options);
    throwIfAborted(options.signal);
    const decoded = await decodeInput(input);
    const owned = ownedTensors(decoded);
    try {
      const [, h, w] = decoded.rgb.shape;
      const { sampling: p, run } = upscaleRun(o, this.config);
      // The pipeline's own plan: the progress total is the evaluations it will run.
      const plan = planFor(this.nets.models, h, w, p, run);
      const size = outputSize(plan, w, h, o.scale);

      const onProgress = options.onProgress;
      const net = instrumentModels(this.nets.models, () => this.nets.buildSeconds(), plan.evaluations, onProgress);
      const cond = await this.conditioning(o);
      owned.push(cond.context, ...(cond.uncondContext ? [cond.uncondContext] : []));
      const noise = options.noise ?? new SeededNoise(o.seed);
      const out = new OutputImage(size.width, size.height, decoded.alpha !== undefined, o);
      const ran = await superResolveStrips(
        net.models,
        decoded.rgb,
        cond,
        p,
        {
          ...run,
          schedule: this.schedule,
          noise,
          // Seeded runs draw each pixel patch from its own stream, so that upscalePatch computes the same patch alone.
          ...(options.noise ? {} : { patchNoise: seededPatchNoise(o.seed) }),
          fidelity: o.fidelity,
          colorFix: o.colorFix,
          signal: options.signal,
          ...(onProgress ? { onProgress: (e) => e.stage !== 'sample' && e.stage !== 'tile' && onProgress(e) } : {}),
        },
        (strip) => out.write(strip),
      );
      if (ran.height < out.height || ran.width < out.width) throw new Error(`internal: output ${ran.width}×${ran.height} smaller than ${out.width}×${out.height}`);
      if (decoded.alpha) await out.attachAlpha(decoded.alpha);
      const seconds = (performance.now() - t0) / 1000;
      net.timings.total = seconds;
      return {
        image: out.image(),
        width: out.width,
        height: out.height,
        seconds,
        timings: net.timings,
        steps: o.steps,
        tiles: plan.evaluations / plan.steps,
        inputWidth: w,
        inputHeight: h,
        grayscale: decoded.grayscale,
        evaluations: net.evaluations(),
        ...(options.noise ? {} : { seed: o.seed }),
      };
    } finally {
      tf.dispose(owned);
    }
  }

  /**
   * The plan of upscaling a `width × height` image with `options`: number math only, nothing runs. Throws on bad
   * options like {@link StableSR.upscale} (an {@link OptionError} naming the option).
   */
  plan(width: number, height: number, options: UpscaleOptions = {}): UpscalePlan {
    this.assertLive();
    if (!Number.isInteger(width) || width < 1 || !Number.isInteger(height) || height < 1) throw new Error(`plan: image size must be positive whole numbers, got ${width}×${height}`);
    const o = this.resolveOptions(options);
    const { sampling, run } = upscaleRun(o, this.config);
    const plan = planFor(this.nets.models, height, width, sampling, run);
    return { options: o, plan, inputWidth: width, inputHeight: height, ...outputSize(plan, width, height, o.scale), patches: plan.patches.length };
  }

  /**
   * One pixel patch of a multi-patch {@link StableSR.plan}, computed on its own: the same values as that patch of
   * {@link StableSR.upscale} with the same input and options (each patch draws its own seeded stream, see
   * `patchSeed`), so patches can run in other processes and be blended by {@link StableSR.blendPatches}.
   * Progress counts this patch's U-Net evaluations. Explicit `noise` is refused (one stream cannot be split).
   */
  async upscalePatch(input: UpscaleInput, index: number, options: UpscaleOptions = {}): Promise<PatchOutput> {
    this.assertLive();
    if (options.noise !== undefined) throw new Error('upscalePatch: option noise cannot be split into patches; give a seed');
    const o = this.resolveOptions(options);
    throwIfAborted(options.signal);
    const decoded = await decodeInput(input);
    const owned = ownedTensors(decoded);
    try {
      const [, h, w] = decoded.rgb.shape;
      const { sampling: p, run } = upscaleRun(o, this.config);
      const plan = planFor(this.nets.models, h, w, p, run);
      if (plan.patches.length < 2) throw new Error(`upscalePatch: a ${w}×${h} image with these options is one window, not several patches; use upscale()`);
      if (!Number.isInteger(index) || index < 0 || index >= plan.patches.length) throw new Error(`upscalePatch: patch index must be 0…${plan.patches.length - 1}, got ${index}`);
      const onProgress = options.onProgress;
      const net = instrumentModels(this.nets.models, () => this.nets.buildSeconds(), plan.steps * plan.tilesPerStep[index]!, onProgress);
      const cond = await this.conditioning(o);
      owned.push(cond.context, ...(cond.uncondContext ? [cond.uncondContext] : []));
      const sched = buildSchedules(this.schedule, p.sampler, p.steps, p.eta);
      const data = await superResolvePatch(net.models, decoded.rgb, plan, index, cond, p, sched, {
        noise: seededPatchNoise(o.seed)(index),
        fidelity: o.fidelity,
        colorFix: o.colorFix,
        signal: options.signal,
        ...(onProgress ? { onProgress: (e) => e.stage !== 'sample' && e.stage !== 'tile' && onProgress(e) } : {}),
      });
      const q = plan.patches[index]!;
      return { index, height: q.h, width: q.w, data };
    } finally {
      tf.dispose(owned);
    }
  }

  /**
   * The output image from every patch of a multi-patch plan (in plan order, as {@link StableSR.upscalePatch} gave
   * them): blended and post-processed exactly as {@link StableSR.upscale} does, so the bytes are the same.
   * `input` is the same image (its size fixes the plan; its alpha, if any, is resized onto the output).
   */
  async blendPatches(input: UpscaleInput, patches: readonly PatchOutput[], options: UpscaleOptions = {}): Promise<Pick<UpscaleResult, 'image' | 'width' | 'height' | 'inputWidth' | 'inputHeight'>> {
    this.assertLive();
    const o = this.resolveOptions(options);
    const decoded = await decodeInput(input);
    const owned = ownedTensors(decoded);
    try {
      const [, h, w] = decoded.rgb.shape;
      const { sampling: p, run } = upscaleRun(o, this.config);
      const plan = planFor(this.nets.models, h, w, p, run);
      if (patches.length !== plan.patches.length) throw new Error(`blendPatches: the plan has ${plan.patches.length} patches, got ${patches.length}`);
      const size = outputSize(plan, w, h, o.scale);
      const out = new OutputImage(size.width, size.height, decoded.alpha !== undefined, o);
      const assembly = new PatchAssembly(plan, 1, 3, (strip) => out.write(strip));
      patches.forEach((q, i) => {
        const box = plan.patches[i]!;
        if (q.index !== i || q.height !== box.h || q.width !== box.w || q.data.length !== box.h * box.w * 3) throw new Error(`blendPatches: patch ${i} is ${q.width}×${q.height} (index ${q.index}, ${q.data.length} values), the plan's is ${box.w}×${box.h}`);
        assembly.add(q.data);
      });
      await assembly.finish();
      if (decoded.alpha) await out.attachAlpha(decoded.alpha);
      return { image: out.image(), width: out.width, height: out.height, inputWidth: w, inputHeight: h };
    } finally {
      tf.dispose(owned);
    }
  }

  /** Releases every tensor and closes the weight files. Further calls throw. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.nets.dispose();
    this.text.dispose();
    for (const f of this.files) f.close();
  }

  private get schedule() {
    return { linearStart: this.config.linear_start, linearEnd: this.config.linear_end, timesteps: this.config.timesteps };
  }

  private async conditioning(o: ResolvedUpscaleOptions): Promise<Conditioning> {
    const context = await this.text.encode(o.prompt);
    if (o.guidanceScale === undefined) return { context };
    try {
      return { context, uncondContext: await this.text.encode(o.negativePrompt ?? ''), guidanceScale: o.guidanceScale };
    } catch (e) {
      context.dispose();
      throw e;
    }
  }

  private resolveOptions(opts: UpscaleOptions): ResolvedUpscaleOptions {
    return resolveUpscaleOptions(opts, { timesteps: this.config.timesteps, imageSize: this.config.image_size, downFactor: this.nets.unet.downFactor, downsampling: this.nets.models.downsampling });
  }

  private assertLive(): void {
    if (this.disposed) throw new Error('StableSR used after dispose()');
  }
}

/** The tensors of a decoded input that the call made and must dispose. */
function ownedTensors(d: DecodedInput): tf.Tensor[] {
  const owned: tf.Tensor[] = d.owned ? [d.rgb] : [];
  if (d.alpha) owned.push(d.alpha);
  return owned;
}

/** The API's output: `trunc(W·scale) × trunc(H·scale)`, at most what the pipeline delivers. */
function outputSize(plan: SRPlan, w: number, h: number, scale: number): { width: number; height: number } {
  return { width: Math.min(plan.outputWidth, Math.trunc(w * scale)), height: Math.min(plan.outputHeight, Math.trunc(h * scale)) };
}
