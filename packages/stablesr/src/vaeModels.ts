import * as tf from '@tensorflow/tfjs-core';
import { type CompiledNetwork, type EngineInfo, type NetworkDefinition, TFJS_ENGINE, type WeightView, compileNetwork, withWeightsAsync } from '@stablesr/core';
import {
  type AutoencoderKL,
  type CfwAutoencoder,
  type TiledBackend,
  cfwDecodeTiled,
  cfwDecoderNetwork,
  cfwEncodeTiled,
  cfwEncoderNetwork,
  decodeTiled,
  disposeAutoencoderKL,
  disposeCfwAutoencoder,
  encodeMomentsTiled,
  loadAutoencoderKL,
  loadCfwAutoencoder,
  onnxTiledBackend,
  parseAutoencoderKLConfig,
  posteriorFromMoments,
  vaeDecoderNetwork,
  vaeEncoderNetwork,
} from '@stablesr/vae';
import { type SRModels } from './srModels.js';

/** The autoencoder half of {@link SRModels}: first-stage VAE and optional CFW autoencoder. */
export type VaeModels = Pick<SRModels, 'scaleFactor' | 'downsampling' | 'latentChannels' | 'encodeFirstStage' | 'decodeFirstStage' | 'cfw'> & {
  /** The networks behind the functions (properties, so that their weights can be moved to the host). */
  readonly modules: { vae: AutoencoderKL; cfw?: CfwAutoencoder };
  /** The engine sessions behind the untiled calls (for load timings). */
  readonly networks: () => readonly CompiledNetwork[];
  dispose(): void;
};

export interface VaeModelOptions {
  scaleFactor: number;
  /**
   * Images (pixels) / latents above this side are encoded / decoded tile by tile (results equal up to
   * rounding), bounding backend memory; `undefined` = never tile. Tiled passes run on the same engine as the
   * untiled ones (stage graphs on ONNX Runtime).
   */
  vaeTileSize?: number;
  /** Engine of the untiled passes (default: tfjs on the active backend). */
  engine?: EngineInfo;
}

/**
 * Loads `first_stage_model.*` (from `stableView`) and, when `cfwView` is given, the CFW autoencoder
 * (`vqgan_cfw_00011.ckpt`, prefix "") and exposes them as the pipeline's pure functions.
 */
export function loadVaeModels(firstStageConfig: unknown, stableView: WeightView, cfwConfig: unknown | undefined, cfwView: WeightView | undefined, opts: VaeModelOptions): VaeModels {
  const fsCfg = parseAutoencoderKLConfig(firstStageConfig, 'first_stage_config');
  const vae: AutoencoderKL = loadAutoencoderKL(fsCfg, stableView.scope('first_stage_model.'), { scaleFactor: opts.scaleFactor });
  let cfw: CfwAutoencoder | undefined;
  try {
    if (cfwView) cfw = loadCfwAutoencoder(parseAutoencoderKLConfig(cfwConfig, 'cfw config'), cfwView, { scaleFactor: opts.scaleFactor });
  } catch (e) {
    disposeAutoencoderKL(vae);
    throw e;
  }
  const tileImage = (img: tf.Tensor4D) => opts.vaeTileSize !== undefined && Math.max(img.shape[1], img.shape[2]) > opts.vaeTileSize;
  const tileLatent = (z: tf.Tensor4D) => opts.vaeTileSize !== undefined && Math.max(z.shape[1], z.shape[2]) * vae.downsamplingFactor > opts.vaeTileSize;
  const latentTile = opts.vaeTileSize !== undefined ? Math.max(1, Math.floor(opts.vaeTileSize / vae.downsamplingFactor)) : undefined;
  const toPosterior = (moments: tf.Tensor4D) => {
    const r = posteriorFromMoments(moments, opts.scaleFactor);
    tf.dispose([r.moments, r.logvar, r.latent]);
    return { mean: r.mean, std: r.std };
  };
  const engine = opts.engine ?? TFJS_ENGINE;
  // Tiled passes: stage graphs on ONNX Runtime (weights read from the host), or eager tfjs with the module's
  // host-held weights uploaded for the pass.
  const tiledBackend = engine.engine === 'onnxruntime' ? onnxTiledBackend('VAE tiled', engine) : undefined;
  const tiled = <T>(module: object, fn: (backend: TiledBackend | undefined) => Promise<T>): Promise<T> => (tiledBackend ? fn(tiledBackend) : withWeightsAsync(module, () => fn(undefined)));
  const tiledOpts = (backend: TiledBackend | undefined, tileSize: number | undefined) => ({ tileSize, ...(backend ? { backend } : {}) });
  // Each untiled call runs a compiled network (on tfjs it uploads the weights kept on the host for the call).
  const networks: CompiledNetwork[] = [];
  const compile = (def: NetworkDefinition): CompiledNetwork => {
    const net = compileNetwork(def, engine);
    networks.push(net);
    return net;
  };
  const encoder = compile(vaeEncoderNetwork(vae));
  const decoder = compile(vaeDecoderNetwork(vae));
  const cfwEncoder = cfw && compile(cfwEncoderNetwork(cfw));
  // The fusion weight is part of the graph: one network per value in use.
  const cfwDecoders = new Map<number, CompiledNetwork>();
  const cfwDecoder = (w: number): CompiledNetwork => {
    let net = cfwDecoders.get(w);
    if (!net) cfwDecoders.set(w, (net = compile(cfwDecoderNetwork(cfw!, w))));
    return net;
  };
  const one = async (p: Promise<tf.Tensor[]>): Promise<tf.Tensor4D> => (await p)[0] as tf.Tensor4D;
  return {
    scaleFactor: opts.scaleFactor,
    downsampling: vae.downsamplingFactor,
    latentChannels: fsCfg.embed_dim,
    encodeFirstStage: async (image) => {
      if (!tileImage(image)) {
        const moments = await one(encoder.run([image]));
        try {
          return toPosterior(moments);
        } finally {
          moments.dispose();
        }
      }
      return tiled(vae, async (backend) => {
        const { moments, features } = await encodeMomentsTiled(vae, image, tiledOpts(backend, opts.vaeTileSize));
        tf.dispose(features);
        return toPosterior(moments);
      });
    },
    decodeFirstStage: (z) => (tileLatent(z) ? tiled(vae, (backend) => decodeTiled(vae, z, tiledOpts(backend, latentTile))) : one(decoder.run([z]))),
    cfw: cfw
      ? {
          encode: async (image) => {
            if (!tileImage(image)) {
              const [moments, ...encFea] = (await cfwEncoder!.run([image])) as tf.Tensor4D[];
              try {
                return { posterior: toPosterior(moments!), encFea };
              } finally {
                moments!.dispose();
              }
            }
            return tiled(cfw!, async (backend) => {
              const r = await cfwEncodeTiled(cfw!, image, tiledOpts(backend, opts.vaeTileSize));
              tf.dispose([r.posterior.moments, r.posterior.logvar, r.posterior.latent]);
              return { posterior: { mean: r.posterior.mean, std: r.posterior.std }, encFea: r.encFeatures };
            });
          },
          decode: (z, encFea, w) => (tileLatent(z) ? tiled(cfw!, (backend) => cfwDecodeTiled(cfw!, z, encFea, w, tiledOpts(backend, latentTile))) : one(cfwDecoder(w).run([z, ...encFea]))),
        }
      : undefined,
    networks: () => networks,
    modules: cfw ? { vae, cfw } : { vae },
    dispose: () => {
      for (const n of networks.splice(0)) void n.dispose();
      void tiledBackend?.dispose();
      disposeAutoencoderKL(vae);
      if (cfw) disposeCfwAutoencoder(cfw);
    },
  };
}
