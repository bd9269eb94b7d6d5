import * as tf from '@tensorflow/tfjs-core';
import { type WeightView, withWeights, withWeightsAsync } from '@stablesr/core';
import {
  type AutoencoderKL,
  type CfwAutoencoder,
  cfwDecode,
  cfwDecodeTiled,
  cfwEncode,
  cfwEncodeTiled,
  decode,
  disposeAutoencoderKL,
  disposeCfwAutoencoder,
  encodeMoments,
  encodeMomentsTiled,
  loadAutoencoderKL,
  loadCfwAutoencoder,
  parseAutoencoderKLConfig,
  posteriorFromMoments,
} from '@stablesr/vae';
import { type SRModels } from './srModels.js';

/** The autoencoder half of {@link SRModels}: first-stage VAE and optional CFW autoencoder. */
export type VaeModels = Pick<SRModels, 'scaleFactor' | 'downsampling' | 'latentChannels' | 'encodeFirstStage' | 'decodeFirstStage' | 'cfw'> & {
  /** The networks behind the functions (properties, so that their weights can be moved to the host). */
  readonly modules: { vae: AutoencoderKL; cfw?: CfwAutoencoder };
  dispose(): void;
};

export interface VaeModelOptions {
  scaleFactor: number;
  /**
   * Images (pixels) / latents above this side are encoded / decoded tile by tile (results equal up to
   * rounding), bounding backend memory; `undefined` = never tile.
   */
  vaeTileSize?: number;
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
  return {
    scaleFactor: opts.scaleFactor,
    downsampling: vae.downsamplingFactor,
    latentChannels: fsCfg.embed_dim,
    // Each call uploads the network's weights when they are kept on the host (withWeights), and frees them after.
    encodeFirstStage: (image) =>
      withWeightsAsync(vae, async () => {
        if (!tileImage(image)) return toPosterior(encodeMoments(vae, image));
        const { moments, features } = await encodeMomentsTiled(vae, image, { tileSize: opts.vaeTileSize });
        tf.dispose(features);
        return toPosterior(moments);
      }),
    decodeFirstStage: (z) => withWeights(vae, () => decode(vae, z)),
    cfw: cfw
      ? {
          encode: (image) =>
            withWeightsAsync(cfw!, async () => {
              const r = tileImage(image) ? await cfwEncodeTiled(cfw!, image, { tileSize: opts.vaeTileSize }) : cfwEncode(cfw!, image);
              tf.dispose([r.posterior.moments, r.posterior.logvar, r.posterior.latent]);
              return { posterior: { mean: r.posterior.mean, std: r.posterior.std }, encFea: r.encFeatures };
            }),
          decode: (z, encFea, w) => withWeightsAsync(cfw!, async () => (tileLatent(z) ? cfwDecodeTiled(cfw!, z, encFea, w, { tileSize: latentTile }) : cfwDecode(cfw!, z, encFea, w))),
        }
      : undefined,
    modules: cfw ? { vae, cfw } : { vae },
    dispose: () => {
      disposeAutoencoderKL(vae);
      if (cfw) disposeCfwAutoencoder(cfw);
    },
  };
}
