import * as tf from '@tensorflow/tfjs-core';
import { type DiffusionSchedule } from '../schedule/registerSchedule.js';
import { f32 } from './prediction.js';
import { positionAt, runSteps, stochasticModelStep } from './stepLoop.js';
import { type DenoiseFn, type SamplerOptions, type StepResult } from './types.js';

/** A (usually respaced) schedule; `timestepMap[i]` is the network timestep at index i (identity when absent). */
export type DdpmSchedule = DiffusionSchedule & { timestepMap?: readonly number[] };

export interface DdpmOptions extends SamplerOptions {
  /** Clamp x₀ to [−1, 1] (`clip_denoised`); StableSR's scripts sample with it off, the default here. */
  clipDenoised?: boolean;
}

/**
 * One ancestral DDPM step (Ho et al. 2020, Algorithm 2, with the posterior of eqs. 6–7), as StableSR's
 * `p_sample` / `p_mean_variance`: x₀ from the schedule's own (respaced) arrays, posterior mean,
 * `x ← mean + σ·z` with σ = exp(½·log β̃_i), σ = 0 at i = 0 — z is drawn there too.
 * Starts from the given `x` at step `k` (teacher forcing); `x` is not disposed.
 */
export async function ddpmStep(denoise: DenoiseFn, x: tf.Tensor4D, k: number, schedule: DdpmSchedule, opts: DdpmOptions = {}): Promise<StepResult> {
  const at = positionAt(k, schedule.numTimesteps, schedule.timestepMap, 'ddpm');
  const i = at.index;
  const param = opts.parameterization ?? 'eps';
  return stochasticModelStep(denoise, x, at, 'ddpm', opts.noise, (modelOut, z) => {
    let x0: tf.Tensor;
    if (param === 'eps') {
      // predict_start_from_noise
      x0 = tf.sub(tf.mul(f32(schedule.sqrtRecipAlphasCumprod[i]!), x), tf.mul(f32(schedule.sqrtRecipm1AlphasCumprod[i]!), modelOut));
    } else if (param === 'v') {
      // predict_start_from_z_and_v
      x0 = tf.sub(tf.mul(f32(schedule.sqrtAlphasCumprod[i]!), x), tf.mul(f32(schedule.sqrtOneMinusAlphasCumprod[i]!), modelOut));
    } else {
      throw new Error(`ddpm: unknown parameterization "${String(param)}" (available: eps, v)`);
    }
    if (opts.clipDenoised) x0 = tf.clipByValue(x0, -1, 1);
    const mean = tf.add(tf.mul(f32(schedule.posteriorMeanCoef1[i]!), x0), tf.mul(f32(schedule.posteriorMeanCoef2[i]!), x));
    const sigma = i === 0 ? 0 : Math.exp(0.5 * Math.fround(schedule.posteriorLogVarianceClipped[i]!));
    return [x0 as tf.Tensor4D, tf.add(mean, tf.mul(f32(sigma), z)) as tf.Tensor4D];
  });
}

/** The whole ancestral DDPM loop over every index of `schedule`, from x_T (not disposed). */
export function sampleDdpm(denoise: DenoiseFn, xT: tf.Tensor4D, schedule: DdpmSchedule, opts: DdpmOptions = {}): Promise<tf.Tensor4D> {
  return runSteps(schedule.numTimesteps, xT, opts, (x, k) => ddpmStep(denoise, x, k, schedule, opts));
}
