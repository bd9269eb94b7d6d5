import type * as tf from '@tensorflow/tfjs-core';
import { type NoiseSource } from '@stablesr/core';
import type { reversePosteriorJump } from './posteriorStep.js';
import type { reverseTimesteps } from './reverseTimesteps.js';

/**
 * The network's noise prediction for state `x` (NHWC) at timestep `t` (1 … T); the condition μ is bound by the
 * caller (`net(x, μ, t)` in the reference). The sampler owns and disposes the returned tensor; do not return `x`.
 */
export type IRSDEDenoiseFn = (x: tf.Tensor4D, t: number) => tf.Tensor4D | Promise<tf.Tensor4D>;

/** One finished reverse step. The tensors belong to the sampler and are disposed after the callback resolves. */
export interface IRSDEStepEvent {
  /** 0-based step index (k = 0 runs t = T). */
  k: number;
  total: number;
  /** The timestep this step ran (the state moves from t to the next timestep of the run, t − 1 without respacing). */
  t: number;
  /** The state after this step. */
  x: tf.Tensor4D;
  /** The network's noise prediction this step used. */
  noisePred: tf.Tensor4D;
}

export interface IRSDESamplerOptions {
  /** The mean the SDE reverts to: for SR the bicubically upscaled LQ image (NHWC, x's shape). */
  mu: tf.Tensor4D;
  /** Per-step standard-normal draws (`use: 'step'`, one per step, x's shape). */
  noise: NoiseSource;
  onStep?: (e: IRSDEStepEvent) => void | Promise<void>;
  /** Checked before each step. */
  signal?: AbortSignal;
  /**
   * Reverse steps, evenly spaced over the schedule's timesteps ({@link reverseTimesteps}); default T, every timestep
   * (the reference). Fewer steps are the posterior sampler's only: it jumps between timesteps exactly
   * ({@link reversePosteriorJump}); the reverse SDE's Euler–Maruyama step has no such form and refuses them.
   */
  steps?: number;
}
