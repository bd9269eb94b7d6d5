import * as tf from '@tensorflow/tfjs-core';
import { type DiffusionSchedule, getV, qSample } from '@stablesr/unet';

/** What the network is trained to predict: the noise ε, or v = √ᾱ_t·ε − √(1−ᾱ_t)·x₀ (Salimans & Ho 2022). */
export type DdpmParameterization = 'eps' | 'v';

/** A denoiser forward: the noisy input and one timestep per batch row → the prediction (ε or v), same shape. */
export type DenoiserForward = (xNoisy: tf.Tensor, t: readonly number[]) => tf.Tensor;

/** The regression target of Algorithm 1 for the parameterization: the noise itself, or v. */
export function ddpmTarget(s: DiffusionSchedule, x0: tf.Tensor, noise: tf.Tensor, t: readonly number[], parameterization: DdpmParameterization): tf.Tensor {
  if (parameterization === 'eps') return noise.clone();
  if (parameterization === 'v') return getV(s, x0, noise, t);
  throw new Error(`DDPM loss: parameterization "${String(parameterization)}" is not eps or v`);
}

/**
 * The DDPM training loss (Ho et al. 2020, Algorithm 1; `LatentDiffusion.p_losses` with `loss_type` l2, logvar 0 and
 * no VLB term): `x_noisy = √ᾱ_t·x₀ + √(1−ᾱ_t)·ε`, then the mean squared error between `model(x_noisy, t)` and the
 * target ({@link ddpmTarget}). The noise is the caller's (a recorded draw can be replayed). Differentiable: call it
 * inside {@link lossAndGradients}.
 */
export function ddpmLoss(s: DiffusionSchedule, model: DenoiserForward, x0: tf.Tensor, noise: tf.Tensor, t: readonly number[], parameterization: DdpmParameterization = 'eps'): tf.Scalar {
  return tf.tidy(() => {
    const target = ddpmTarget(s, x0, noise, t, parameterization);
    const out = model(qSample(s, x0, noise, t), t);
    // Every sample has the same size, so the reference's mean over samples of per-sample means is the plain mean.
    return tf.mean(tf.square(tf.sub(out, target))) as tf.Scalar;
  });
}
