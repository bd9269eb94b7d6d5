import { type EngineInfo, TFJS_ENGINE, type WeightPlacement, type WeightView, WeightFileError, buildModuleOn, float32Bytes, weightsOnHost } from '@stablesr/core';
import { compileUNet, disposeUNet } from '@stablesr/unet';
import { type SRModels } from './srModels.js';
import { type StableSRConfig } from './stableSRConfig.js';
import { type EncoderUNetModelWTConfig, type TimeAwareEncoder, compileTimeAwareEncoder, disposeTimeAwareEncoder, loadTimeAwareEncoder } from './timeAwareEncoder.js';
import { type StableSRUNet, type UNetModelDualcondV2Config, loadStableSRUNet } from './unetModelDualcondV2.js';
import { type VaeModels, loadVaeModels } from './vaeModels.js';

/** The loaded networks of a StableSR model as the pipeline's {@link SRModels}, with ownership. */
export interface SRNetworks {
  readonly models: SRModels;
  readonly unet: StableSRUNet;
  readonly structCond: TimeAwareEncoder;
  readonly vae: VaeModels;
  /** Whether the weights are kept on the host and uploaded per call ({@link SRNetworksOptions.weights}). */
  readonly weightsOnHost: boolean;
  /** The engine the networks run on. */
  readonly engine: EngineInfo;
  /** Seconds spent so far building engine sessions for these networks (ONNX graphs; 0 on tfjs). */
  buildSeconds(): number;
  /** Releases every weight tensor and engine session (the weight files stay open; their owner closes them). */
  dispose(): void;
}

export interface SRNetworksOptions {
  /** See {@link VaeModelOptions.vaeTileSize}. */
  vaeTileSize?: number;
  /**
   * Where the networks' weights live (default `auto`: on the host for the wasm backend when the U-Net's exceed
   * 1 GiB, as the released fp32 U-Net's 3.5 GiB do: the wasm heap ends at 4 GiB and also holds packed copies).
   */
  weights?: WeightPlacement;
  /** Engine of every network (default: tfjs on the active backend). ONNX Runtime always reads the weights from the host. */
  engine?: EngineInfo;
}

/**
 * Throws unless `view` (the checkpoint root) holds StableSR's `UNetModelDualcondV2`: a plain Stable Diffusion
 * checkpoint has `model.diffusion_model.*` but no SPADE layers (`….spade.*`).
 */
export function assertStableSRCheckpoint(view: WeightView, name = view.origin): void {
  const keys = view.keys();
  const prefix = 'model.diffusion_model.';
  if (!keys.some((k) => k.startsWith(prefix))) {
    throw new WeightFileError(name, `is not a StableSR checkpoint (no ${prefix}* keys: not a latent-diffusion checkpoint; ${keys.length} keys, e.g. ${keys.slice(0, 3).join(', ') || 'none'})`);
  }
  if (!keys.some((k) => k.startsWith(prefix) && k.includes('.spade.'))) {
    throw new WeightFileError(name, `is not a StableSR checkpoint (no SPADE keys ${prefix}*.spade.*: this looks like a plain Stable Diffusion checkpoint; StableSR needs stablesr_000117.ckpt or stablesr_768v_000139.ckpt)`);
  }
  if (!keys.some((k) => k.startsWith('structcond_stage_model.'))) {
    throw new WeightFileError(name, 'is not a complete StableSR checkpoint (no structcond_stage_model.* keys: the time-aware encoder is missing)');
  }
}

/**
 * Loads the U-Net (`model.diffusion_model.`), the time-aware encoder (`structcond_stage_model.`), the
 * first-stage VAE (`first_stage_model.`) from the checkpoint view and, when given, the CFW autoencoder
 * (prefix "", `vqgan_cfw_00011.ckpt`). Strict: every key is checked against the config. A failed load
 * releases what was already loaded. The weights may be kept on the host ({@link SRNetworksOptions.weights}).
 */
export async function loadSRNetworks(config: StableSRConfig, checkpoint: WeightView, cfw: WeightView | undefined, opts: SRNetworksOptions = {}): Promise<SRNetworks> {
  const loaded: (() => void)[] = [];
  try {
    const unetView = checkpoint.scope('model.diffusion_model.');
    // With host weights every network is built on the cpu backend (nothing enters the backend while loading) and
    // each call uploads what it needs: the U-Net one layer at a time, the smaller networks whole.
    const engine = opts.engine ?? TFJS_ENGINE;
    const onHost = engine.engine === 'onnxruntime' || weightsOnHost(opts.weights, float32Bytes(unetView));
    const unet = await buildModuleOn(onHost, () => loadStableSRUNet(config.unet_config as unknown as UNetModelDualcondV2Config, unetView));
    loaded.push(() => disposeUNet(unet));
    const enc = await buildModuleOn(onHost, () => loadTimeAwareEncoder(config.structcond_stage_config as unknown as EncoderUNetModelWTConfig, checkpoint.scope('structcond_stage_model.')));
    loaded.push(() => disposeTimeAwareEncoder(enc));
    let vae: VaeModels;
    try {
      vae = await buildModuleOn(onHost, () => loadVaeModels(config.first_stage_config, checkpoint, cfw ? config.cfw_config : undefined, cfw, { scaleFactor: config.scale_factor, vaeTileSize: opts.vaeTileSize, engine }));
    } catch (e) {
      // Name the file: a CFW whose fusion layers do not fit the config is the usual cause.
      if (cfw && e instanceof Error && !(e instanceof WeightFileError) && !e.message.includes(cfw.origin)) e.message = `${cfw.origin}: ${e.message}`;
      throw e;
    }
    loaded.push(() => vae.dispose());
    const unetNet = compileUNet(unet, engine, 'StableSR U-Net');
    const encNet = compileTimeAwareEncoder(enc, engine);
    loaded.push(() => void unetNet.network.dispose(), () => void encNet.network.dispose());
    const models: SRModels = {
      scaleFactor: vae.scaleFactor,
      downsampling: vae.downsampling,
      latentChannels: vae.latentChannels,
      unetDownFactor: unet.downFactor,
      structCond: (lr, t) => encNet.run(lr, t),
      unet: (x, t, context, cond) => unetNet.run(x, t, context, cond),
      encodeFirstStage: vae.encodeFirstStage,
      decodeFirstStage: vae.decodeFirstStage,
      ...(vae.cfw ? { cfw: vae.cfw } : {}),
    };
    const networks = () => [unetNet.network, encNet.network, ...vae.networks()];
    return {
      models,
      unet,
      structCond: enc,
      vae,
      weightsOnHost: onHost,
      engine,
      buildSeconds: () => networks().reduce((a, n) => a + n.buildSeconds, 0),
      dispose: () => loaded.splice(0).reverse().forEach((f) => f()),
    };
  } catch (e) {
    loaded.reverse().forEach((f) => f());
    throw e;
  }
}
