import * as tf from '@tensorflow/tfjs-core';
import { epsAndX0, f32 } from './prediction.js';
import { positionAt, runSteps, stochasticModelStep } from './stepLoop.js';
import { type DenoiseFn, type SamplerOptions, type StepResult } from './types.js';

/**
 * DDIM arrays by position (position 0 = least noisy), e.g. from `ddimSchedule`, plus the network
 * timestep of each position. They are separate on purpose: StableSR feeds `space_timesteps(T, [S])`
 * to the network while its ᾱ come from `range(0, T, T // S)` by position; upstream SD feeds the DDIM timesteps.
 */
export interface DdimArrays {
  alphas: ArrayLike<number>;
  alphasPrev: ArrayLike<number>;
  sigmas: ArrayLike<number>;
  timesteps: readonly number[];
}

export interface DdimOptions extends SamplerOptions {
  /**
   * How x₀ is formed from a v prediction (see `epsAndX0`): `viaEps` = StableSR's `p_sample_ddim_sr_t`
   * (v → ε with the position's ᾱ, then x₀ from ε), `direct` = upstream SD's `p_sample_ddim`. Default `viaEps`.
   */
  vX0?: 'viaEps' | 'direct';
}

function checkArrays(s: DdimArrays): number {
  const total = s.timesteps.length;
  if (s.alphas.length < total || s.alphasPrev.length < total || s.sigmas.length < total) {
    throw new Error(`ddim: ${total} network timesteps but only ${Math.min(s.alphas.length, s.alphasPrev.length, s.sigmas.length)} positions of alphas/alphasPrev/sigmas`);
  }
  return total;
}

/**
 * One DDIM step (Song et al. 2021, eq. 12), as LDM's `p_sample_ddim`:
 * `x ← √a_prev·x₀ + √(1 − a_prev − σ²)·ε + σ·z`, z drawn also when σ = 0.
 * Starts from the given `x` at step `k` (teacher forcing); `x` is not disposed.
 */
export async function ddimStep(denoise: DenoiseFn, x: tf.Tensor4D, k: number, s: DdimArrays, opts: DdimOptions = {}): Promise<StepResult> {
  const total = checkArrays(s);
  const at = positionAt(k, total, s.timesteps, 'ddim');
  const a = s.alphas[at.index]!;
  const aPrev = s.alphasPrev[at.index]!;
  const sigma = s.sigmas[at.index]!;
  return stochasticModelStep(denoise, x, at, 'ddim', opts.noise, (modelOut, z) => {
    const { eps, x0 } = epsAndX0(x, modelOut, a, opts.parameterization ?? 'eps', opts.vX0 ?? 'viaEps');
    // Rounding can push 1 − a_prev − σ² a hair below 0 at η = 1; the exact value is ≥ 0.
    const dir = tf.mul(f32(Math.sqrt(Math.max(1 - aPrev - sigma * sigma, 0))), eps);
    const xPrev = tf.add(tf.add(tf.mul(f32(Math.sqrt(aPrev)), x0), dir), tf.mul(f32(sigma), z));
    return [x0, xPrev as tf.Tensor4D];
  });
}

/** The whole DDIM loop over every position, from x_T (not disposed). */
export function sampleDdim(denoise: DenoiseFn, xT: tf.Tensor4D, s: DdimArrays, opts: DdimOptions = {}): Promise<tf.Tensor4D> {
  return runSteps(checkArrays(s), xT, opts, (x, k) => ddimStep(denoise, x, k, s, opts));
}
