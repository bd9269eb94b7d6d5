import * as tf from '@tensorflow/tfjs-core';
import { type NoiseSource, throwIfAborted } from '@stablesr/core';
import { type DenoiseFn, type SamplerOptions, type SamplerPosition, type StepResult } from './types.js';

/**
 * The loop every sampler shares: step k = 0 … total−1 from `xT`, abort check before each step, progress
 * after it, tensors of finished steps disposed. `step` receives the previous step's result (multistep
 * solvers read its `predX0`); it stays alive until the next step returns. `xT` is not disposed.
 */
export async function runSteps(
  total: number,
  xT: tf.Tensor4D,
  opts: SamplerOptions,
  step: (x: tf.Tensor4D, k: number, prev: StepResult | undefined) => Promise<StepResult>,
): Promise<tf.Tensor4D> {
  let x = xT;
  let prev: StepResult | undefined;
  try {
    for (let k = 0; k < total; k++) {
      throwIfAborted(opts.signal);
      const r = await step(x, k, prev);
      if (prev) tf.dispose([prev.predX0, prev.modelOut]);
      if (x !== xT) x.dispose();
      prev = r;
      x = r.x;
      if (opts.onStep) await opts.onStep({ ...r.at, x: r.x, predX0: r.predX0, modelOut: r.modelOut });
    }
    const out = x;
    x = xT; // ownership of the result passes to the caller
    return out;
  } finally {
    if (prev) tf.dispose([prev.predX0, prev.modelOut]);
    if (x !== xT) x.dispose();
  }
}

/** Position of step k among `total` positions with network timesteps `timesteps` (by position). */
export function positionAt(k: number, total: number, timesteps: readonly number[] | undefined, what: string): SamplerPosition {
  if (!Number.isInteger(k) || k < 0 || k >= total) throw new Error(`${what}: step ${k} is outside [0, ${total})`);
  const index = total - 1 - k;
  const t = timesteps ? timesteps[index] : index;
  if (t === undefined) throw new Error(`${what}: no network timestep for position ${index} (${timesteps?.length} given)`);
  return { k, total, index, t };
}

/** Runs the denoiser and checks it returned a fresh tensor of x's shape. */
export async function evalDenoiser(denoise: DenoiseFn, x: tf.Tensor4D, at: SamplerPosition, what: string): Promise<tf.Tensor4D> {
  const m = await denoise(x, at);
  if (m === x) throw new Error(`${what}: the denoiser returned its input tensor; it must return a new tensor`);
  if (m.shape.length !== 4 || m.shape.some((d, i) => d !== x.shape[i])) {
    m.dispose();
    throw new Error(`${what}: denoiser output shape [${m.shape}] does not match the latent [${x.shape}] at step ${at.k} (t = ${at.t})`);
  }
  return m;
}

/**
 * The body of one sampler step: evaluates the denoiser at `at`, then `update(modelOut)` inside a tidy, which
 * returns [predX0, next x]. The model output is kept in the result (released if the update throws).
 */
export async function modelStep(
  denoise: DenoiseFn,
  x: tf.Tensor4D,
  at: SamplerPosition,
  what: string,
  update: (modelOut: tf.Tensor4D) => [tf.Tensor4D, tf.Tensor4D],
): Promise<StepResult> {
  const modelOut = await evalDenoiser(denoise, x, at, what);
  try {
    const [predX0, next] = tf.tidy(() => update(modelOut));
    return { at, x: next, predX0, modelOut };
  } catch (e) {
    modelOut.dispose();
    throw e;
  }
}

/**
 * {@link modelStep} of a stochastic sampler: the step's noise z is drawn after the model call (the
 * reference draw order), also where the update ignores it, and released after the update.
 */
export function stochasticModelStep(
  denoise: DenoiseFn,
  x: tf.Tensor4D,
  at: SamplerPosition,
  what: string,
  noise: NoiseSource | undefined,
  update: (modelOut: tf.Tensor4D, z: tf.Tensor) => [tf.Tensor4D, tf.Tensor4D],
): Promise<StepResult> {
  return modelStep(denoise, x, at, what, (modelOut) => {
    const z = drawStepNoise(noise, x.shape, what);
    try {
      return update(modelOut, z);
    } finally {
      z.dispose();
    }
  });
}

/** The per-step draw of a stochastic sampler. */
export function drawStepNoise(noise: NoiseSource | undefined, shape: readonly number[], what: string): tf.Tensor {
  if (!noise) throw new Error(`${what}: options.noise is required (one draw per step, use "step")`);
  return noise.draw(shape, 'step');
}
