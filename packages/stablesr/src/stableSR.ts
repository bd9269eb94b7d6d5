import * as tf from '@tensorflow/tfjs-core';
import { type BackendInfo, type EngineInfo, type Weights, SeededNoise, throwIfAborted } from '@stablesr/core';
import { type Conditioning } from './guidedDenoiser.js';
import { type LoadedStableSR, type StableSRLoadOptions, loadStableSRParts } from './loadStableSR.js';
import { OutputImage } from './outputImage.js';
import { type PromptEncoder } from './promptEncoder.js';
import { type SRModels } from './srModels.js';
import { type SRNetworks } from './srNetworks.js';
import { planFor, superResolveStrips } from './srPipeline.js';
import { type StableSRConfig } from './stableSRConfig.js';
import { type UpscaleInput, decodeInput } from './upscaleInput.js';
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
    const owned: tf.Tensor[] = decoded.owned ? [decoded.rgb] : [];
    if (decoded.alpha) owned.push(decoded.alpha);
    try {
      const [, h, w] = decoded.rgb.shape;
      const { sampling: p, run } = upscaleRun(o, this.config);
      // The pipeline's own plan: the progress total is the evaluations it will run.
      const plan = planFor(this.nets.models, h, w, p, run);

      const onProgress = options.onProgress;
      const net = instrumentModels(this.nets.models, () => this.nets.buildSeconds(), plan.evaluations, onProgress);
      const cond = await this.conditioning(o);
      owned.push(cond.context, ...(cond.uncondContext ? [cond.uncondContext] : []));
      const noise = options.noise ?? new SeededNoise(o.seed);
      const out = new OutputImage(Math.min(plan.outputWidth, Math.trunc(w * o.scale)), Math.min(plan.outputHeight, Math.trunc(h * o.scale)), decoded.alpha !== undefined, o);
      const size = await superResolveStrips(
        net.models,
        decoded.rgb,
        cond,
        p,
        {
          ...run,
          schedule: { linearStart: this.config.linear_start, linearEnd: this.config.linear_end, timesteps: this.config.timesteps },
          noise,
          fidelity: o.fidelity,
          colorFix: o.colorFix,
          signal: options.signal,
          ...(onProgress ? { onProgress: (e) => e.stage !== 'sample' && e.stage !== 'tile' && onProgress(e) } : {}),
        },
        (strip) => out.write(strip),
      );
      if (size.height < out.height || size.width < out.width) throw new Error(`internal: output ${size.width}×${size.height} smaller than ${out.width}×${out.height}`);
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

  /** Releases every tensor and closes the weight files. Further calls throw. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.nets.dispose();
    this.text.dispose();
    for (const f of this.files) f.close();
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
