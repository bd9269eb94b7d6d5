import * as tf from '@tensorflow/tfjs-core';
import { throwIfAborted } from '@stablesr/core';
import { type IRSDESchedule } from './irsdeSchedule.js';
import { reverseTimesteps } from './reverseTimesteps.js';
import { type IRSDEDenoiseFn, type IRSDESamplerOptions } from './samplerTypes.js';

/**
 * One reverse step's update from the noise prediction and the step's draw `z`, moving the state from `t` to `next`
 * (t − 1 unless the run skips timesteps); the returned tensor is the new state (made inside a tidy by the loop, so
 * intermediates are released).
 */
export type IRSDEUpdate = (s: IRSDESchedule, x: tf.Tensor4D, mu: tf.Tensor4D, noisePred: tf.Tensor4D, t: number, z: tf.Tensor, next: number) => tf.Tensor;

/** Evaluates the denoiser and checks it returned a fresh tensor of x's shape. */
async function predictNoise(denoise: IRSDEDenoiseFn, x: tf.Tensor4D, t: number, what: string): Promise<tf.Tensor4D> {
  const m = await denoise(x, t);
  if (m === x) throw new Error(`${what}: the denoiser returned its input tensor; it must return a new tensor`);
  if (m.shape.length !== 4 || m.shape.some((d, i) => d !== x.shape[i])) {
    m.dispose();
    throw new Error(`${what}: denoiser output shape [${m.shape}] does not match the state [${x.shape}] at t = ${t}`);
  }
  return m;
}

/**
 * One reverse step at timestep `t`: the network, then the step's draw (`use: 'step'`, the reference draws it after
 * the network call), then `update`. Returns the new state and the noise prediction; the caller owns both.
 */
export async function irsdeModelStep(
  denoise: IRSDEDenoiseFn,
  x: tf.Tensor4D,
  schedule: IRSDESchedule,
  t: number,
  opts: Pick<IRSDESamplerOptions, 'mu' | 'noise'>,
  update: IRSDEUpdate,
  what: string,
  next = t - 1,
): Promise<{ x: tf.Tensor4D; noisePred: tf.Tensor4D }> {
  if (!Number.isInteger(t) || t < 1 || t > schedule.T) throw new Error(`${what}: timestep ${t} is outside 1 … ${schedule.T}`);
  if (opts.mu.shape.some((d, i) => d !== x.shape[i])) throw new Error(`${what}: mu [${opts.mu.shape}] and the state [${x.shape}] differ in shape`);
  const noisePred = await predictNoise(denoise, x, t, what);
  try {
    const z = opts.noise.draw(x.shape, 'step');
    try {
      return { x: tf.tidy(() => update(schedule, x, opts.mu, noisePred, t, z, next)) as tf.Tensor4D, noisePred };
    } finally {
      z.dispose();
    }
  } catch (e) {
    noisePred.dispose();
    throw e;
  }
}

/**
 * The reverse loop every IR-SDE sampler shares: t = T … 1 from `xT` (or the `steps` timesteps of
 * {@link reverseTimesteps}), abort check before each step, progress after it, tensors of finished steps disposed.
 * `xT` is not disposed; the result belongs to the caller.
 */
export async function runReverse(denoise: IRSDEDenoiseFn, xT: tf.Tensor4D, schedule: IRSDESchedule, opts: IRSDESamplerOptions, update: IRSDEUpdate, what: string): Promise<tf.Tensor4D> {
  if (!opts?.mu) throw new Error(`${what}: option "mu" (the mean the SDE reverts to) is required`);
  if (!opts.noise) throw new Error(`${what}: option "noise" (per-step draws) is required`);
  const timesteps = reverseTimesteps(schedule.T, opts.steps ?? schedule.T);
  let x = xT;
  try {
    for (const [k, t] of timesteps.entries()) {
      throwIfAborted(opts.signal);
      const r = await irsdeModelStep(denoise, x, schedule, t, opts, update, what, timesteps[k + 1] ?? 0);
      if (x !== xT) x.dispose();
      x = r.x;
      try {
        if (opts.onStep) await opts.onStep({ k, total: timesteps.length, t, x: r.x, noisePred: r.noisePred });
      } finally {
        r.noisePred.dispose();
      }
    }
    const out = x;
    x = xT; // ownership of the result passes to the caller
    return out;
  } finally {
    if (x !== xT) x.dispose();
  }
}
