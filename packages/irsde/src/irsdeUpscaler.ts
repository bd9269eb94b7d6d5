import * as tf from '@tensorflow/tfjs-core';
import { type EngineInfo, type EngineOptions, type RawImage, type Weights, openWeights, quantize, readImage, resolveEngine } from '@stablesr/core';
import { type ConditionalUNet, type ConditionalUNetConfig, disposeConditionalUNet, loadConditionalUNet } from './conditionalUNet.js';
import { conditionalUNetConfigFromWeights } from './conditionalUNetConfigFromWeights.js';
import { type ConditionalUNetNetwork, compileConditionalUNet } from './conditionalUNetNetwork.js';
import { type IRSDEConfig, IRSDE_DEFAULTS, irsdeSchedule } from './irsdeSchedule.js';
import { readIRSDEMetadata } from './irsdeModelMetadata.js';
import { reverseTimesteps } from './reverseTimesteps.js';
import { type NoiseParameterization } from './noiseParameterization.js';
import { type IRSDESamplerName, type IRSDESuperResolveOptions, IRSDE_SR_DEFAULTS, irsdeSuperResolve } from './irsdeSuperResolve.js';

/** The SDE of the authors' SISR setting: T 100, λ = 30/255, cosine θ, eps 0.005 (as the `sampler.irsde-sr` fixtures run it). */
export const IRSDE_SISR_SDE: IRSDEConfig = { max_sigma: 30, T: 100, schedule: 'cosine', eps: 0.005 };

export interface IRSDEUpscalerLoadOptions extends EngineOptions {
  /** The network's state dict (`.pth`, `.safetensors`): the authors' key layout, read strictly. */
  checkpoint: string;
  /** Network structure; what is not given comes from the file's stablesr metadata, else from its keys. */
  network?: Partial<ConditionalUNetConfig>;
  /** The SDE the model was trained with (default: the file's stablesr metadata, else {@link IRSDE_SISR_SDE}). */
  sde?: Partial<IRSDEConfig>;
}

export interface IRSDEUpscaleOptions extends Omit<IRSDESuperResolveOptions, 'trace' | 'parameterization'> {
  /**
   * Reverse steps, 1 … the model's T (default the model's recommendation, else T: 100 for the official SISR model).
   * Fewer than T visit evenly spaced timesteps of the model's own schedule (posterior sampler only).
   */
  steps?: number;
  /**
   * Side of the pixel tiles (see IRSDESuperResolveOptions.tileSize). Default 256 × the network's `pixel_unshuffle`
   * (1024 for the default model): a tile is 256² network positions whatever the grid, so a 1024² output runs as one
   * call instead of 25 overlapping ones (measured on the default model: fewer pixels computed, at ~2.5 GB peak).
   */
  tileSize?: number;
}

export interface IRSDEUpscaleResult {
  /** 8-bit RGB, `scale` × the input. */
  image: RawImage;
  steps: number;
  seed?: number;
  seconds: number;
}

/**
 * An IR-SDE super-resolution model loaded from the authors' checkpoint (`ConditionalUNet` + its SDE), for files and
 * buffers: `await (await IRSDEUpscaler.load({ checkpoint: 'sisr.pth' })).upscale('photo.png')`.
 */
export class IRSDEUpscaler {
  private constructor(
    private readonly unet: ConditionalUNet,
    private readonly net: ConditionalUNetNetwork,
    /** The engine that runs the network. */
    readonly engine: EngineInfo,
    readonly config: ConditionalUNetConfig,
    readonly sde: IRSDEConfig,
    /**
     * Defaults of {@link IRSDEUpscaler.upscale} that came with the model (scale, sampler, steps); `trainedScale` when
     * the file records the factor it was trained for (a stablesr-trained model), which is then the only one it takes.
     */
    readonly defaults: { scale: number; sampler?: IRSDESamplerName; steps?: number; temperature?: number; selfEnsemble?: boolean; trainedScale?: number },
    /** What the network outputs (from the file's metadata; `eps` for the authors' checkpoints). */
    readonly parameterization: NoiseParameterization = 'eps',
  ) {}

  static async load(opts: IRSDEUpscalerLoadOptions): Promise<IRSDEUpscaler> {
    const engine = await resolveEngine(opts);
    const weights: Weights = openWeights(opts.checkpoint);
    try {
      const meta = readIRSDEMetadata(weights.source);
      const config = conditionalUNetConfigFromWeights(weights, { ...meta?.network, ...opts.network });
      const sde = { ...IRSDE_SISR_SDE, ...meta?.sde, ...opts.sde };
      irsdeSchedule(sde); // fails here, at load, on a bad SDE setting
      const unet = loadConditionalUNet(config, weights);
      const defaults = { scale: meta?.scale ?? IRSDE_SR_DEFAULTS.scale, ...(meta?.scale && { trainedScale: meta.scale }), ...(meta?.sampler && { sampler: meta.sampler }), ...(meta?.steps && { steps: meta.steps }), ...(meta?.temperature !== undefined && { temperature: meta.temperature }), ...(meta?.selfEnsemble !== undefined && { selfEnsemble: meta.selfEnsemble }) };
      return new IRSDEUpscaler(unet, compileConditionalUNet(unet, engine), engine, config, sde, defaults, meta?.parameterization ?? 'eps');
    } finally {
      weights.close();
    }
  }

  /** Upscales an image file, encoded buffer or {@link RawImage} (alpha is dropped; gray becomes RGB). */
  async upscale(input: string | Buffer | Uint8Array | RawImage, opts: IRSDEUpscaleOptions = {}): Promise<IRSDEUpscaleResult> {
    const t0 = performance.now();
    const T = this.sde.T ?? IRSDE_DEFAULTS.T;
    const sampler = opts.sampler ?? this.defaults.sampler;
    // A recommended step count below T is the posterior sampler's; the sde sampler always runs T.
    const steps = opts.steps ?? (sampler === 'sde' ? T : (this.defaults.steps ?? T));
    reverseTimesteps(T, steps);
    const trained = this.defaults.trainedScale;
    if (opts.scale !== undefined && trained !== undefined && opts.scale !== trained) throw new Error(`option scale ${opts.scale}: this model was trained for ×${trained} only (its μ is the ×${trained} bicubic upscale); use scale ${trained}`);
    const decoded = await readImage(input);
    decoded.alpha?.dispose();
    const lq = tf.tidy(() => tf.div(tf.add(decoded.rgb, 1), 2) as tf.Tensor4D);
    decoded.rgb.dispose();
    try {
      const { steps: _steps, ...rest } = opts;
      const tileSize = rest.tileSize ?? IRSDE_SR_DEFAULTS.tileSize * (this.config.pixel_unshuffle ?? 1);
      const out = await irsdeSuperResolve(this.net, irsdeSchedule(this.sde), lq, { ...rest, tileSize, steps, scale: rest.scale ?? this.defaults.scale, sampler, temperature: rest.temperature ?? this.defaults.temperature, selfEnsemble: rest.selfEnsemble ?? this.defaults.selfEnsemble, parameterization: this.parameterization });
      const [, height, width] = out.shape;
      const values = (await out.data()) as Float32Array;
      out.dispose();
      // util.tensor2img: clamp to [0, 1], ×255, round.
      const data = quantize(values, { mode: 'round', bitDepth: 8, signed: false });
      const seed = opts.noise ? undefined : (opts.seed ?? IRSDE_SR_DEFAULTS.seed);
      return { image: { data, width, height, channels: 3 }, steps, ...(seed !== undefined && { seed }), seconds: (performance.now() - t0) / 1000 };
    } finally {
      lq.dispose();
    }
  }

  dispose(): void {
    void this.net.network.dispose();
    disposeConditionalUNet(this.unet);
  }
}
