import type * as tf from '@tensorflow/tfjs-core';

/**
 * The structure condition of the time-aware encoder: one feature map per U-Net resolution, keyed by its
 * spatial **width** (the reference's `str(h.size(-1))` dict), NHWC.
 */
export type StructCond = ReadonlyMap<number, tf.Tensor4D>;

/** A diagonal Gaussian posterior of the VAE (`DiagonalGaussianDistribution`): mean and std, NHWC. */
export interface LatentPosterior {
  mean: tf.Tensor4D;
  std: tf.Tensor4D;
}

type MaybePromise<T> = T | Promise<T>;

/**
 * The networks the SR pipeline composes, as pure functions over NHWC tensors. Built from loaded modules
 * by `StableSR.load` (or by tests with small stand-ins). Returned tensors belong to the caller.
 */
export interface SRModels {
  /** `LatentDiffusion.scale_factor` (0.18215). */
  readonly scaleFactor: number;
  /** Image → latent downsampling factor f (8). */
  readonly downsampling: number;
  /** Latent channels (4). */
  readonly latentChannels: number;
  /** The U-Net's downsampling 2^(levels − 1): latent windows must be multiples of it. */
  readonly unetDownFactor: number;
  /** `structcond_stage_model(latent, t)`: time-aware encoder on the (not noised) LR latent. */
  structCond(lrLatent: tf.Tensor4D, t: readonly number[]): MaybePromise<StructCond>;
  /** `UNetModelDualcondV2(x, t, context, struct_cond)`: the raw model output (ε or v). */
  unet(x: tf.Tensor4D, t: readonly number[], context: tf.Tensor3D, cond: StructCond): MaybePromise<tf.Tensor4D>;
  /** First-stage VAE encoder + quant_conv, as a posterior (`model.encode_first_stage`). Image in [-1, 1]. */
  encodeFirstStage(image: tf.Tensor4D): MaybePromise<LatentPosterior>;
  /** First-stage decoder of an **unscaled** latent (`first_stage_model.decode`). */
  decodeFirstStage(z: tf.Tensor4D): MaybePromise<tf.Tensor4D>;
  /** The CFW autoencoder (`vq_model`), when loaded. */
  readonly cfw?: {
    /** Posterior and the encoder features `enc_fea` that the fusion layers read. */
    encode(image: tf.Tensor4D): MaybePromise<{ posterior: LatentPosterior; encFea: tf.Tensor4D[] }>;
    /** `Decoder_Mix` with `fusion_w = w` of an **unscaled** latent. */
    decode(z: tf.Tensor4D, encFea: readonly tf.Tensor4D[], w: number): MaybePromise<tf.Tensor4D>;
  };
}

export function disposeStructCond(sc: StructCond): void {
  for (const t of sc.values()) t.dispose();
}

export function disposePosterior(p: LatentPosterior): void {
  p.mean.dispose();
  p.std.dispose();
}
