import type * as tf from '@tensorflow/tfjs-core';
import type { NoiseSource } from '@stablesr/core';

/** What the network predicts: the noise ε, or v = √ᾱ·ε − √(1−ᾱ)·x₀ (Salimans & Ho 2022). */
export type Parameterization = 'eps' | 'v';

/** Where a sampler is: step k of `total` (k = 0 is the noisiest), position `index` = total − 1 − k, network timestep `t`. */
export interface SamplerPosition {
  k: number;
  total: number;
  index: number;
  t: number;
}

/**
 * The raw model output (ε or v) for latent `x` (NHWC) at a position. Everything the network sees —
 * StableSR's two clocks, tiled blending, classifier-free guidance — is decided inside. The sampler
 * owns the returned tensor and disposes it; do not return `x` itself.
 */
export type DenoiseFn = (x: tf.Tensor4D, at: SamplerPosition) => tf.Tensor4D | Promise<tf.Tensor4D>;

/** One finished step. The tensors belong to the sampler and are disposed after the callback resolves: clone to keep. */
export interface SamplerStepEvent extends SamplerPosition {
  /** The latent after this step. */
  x: tf.Tensor4D;
  /** The x₀ prediction this step used. */
  predX0: tf.Tensor4D;
  /** The raw denoiser output. */
  modelOut: tf.Tensor4D;
}

export type SamplerStepCallback = (e: SamplerStepEvent) => void | Promise<void>;

export interface SamplerOptions {
  /** Default `eps`. */
  parameterization?: Parameterization;
  /**
   * Per-step noise, drawn with `use: 'step'` once per step of the stochastic samplers (DDPM, DDIM,
   * Euler-ancestral), also when σ = 0, to keep the reference's draw order. Required by those samplers.
   */
  noise?: NoiseSource;
  onStep?: SamplerStepCallback;
  /** Checked between steps. */
  signal?: AbortSignal;
}

/** What a single step returns; the caller owns all three tensors. */
export interface StepResult {
  at: SamplerPosition;
  x: tf.Tensor4D;
  predX0: tf.Tensor4D;
  modelOut: tf.Tensor4D;
}
