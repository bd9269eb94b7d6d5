import * as tf from '@tensorflow/tfjs-core';
import { type StepSchedule } from '../schedule/stepSchedule.js';
import { epsAndX0, f32 } from './prediction.js';
import { positionAt, runSteps, stochasticModelStep } from './stepLoop.js';
import { type DenoiseFn, type SamplerOptions, type StepResult } from './types.js';

export interface EulerAncestralOptions extends SamplerOptions {
  /** Ancestral noise amount η (k-diffusion `eta`, default 1; 0 = plain Euler). */
  eta?: number;
  /** Noise multiplier (`s_noise`, default 1). */
  sNoise?: number;
}

function checkSchedule(s: StepSchedule): number {
  const total = s.timesteps.length;
  if (s.alphas.length < total || s.alphasPrev.length < total) throw new Error(`euler-a: ${total} timesteps but fewer alphas/alphasPrev`);
  return total;
}

/** σ of the variance-exploding view, σ = √((1−ᾱ)/ᾱ) (Karras et al. 2022, VP ↔ VE). */
function sigmaOf(a: number): number {
  return Math.sqrt((1 - a) / a);
}

/**
 * One step of k-diffusion's `sample_euler_ancestral` (Karras et al. 2022's Euler step plus ancestral
 * noise, `get_ancestral_step`), run in σ space on x/√ᾱ; the latent in and out is the VP latent like the
 * other samplers (x_VP = √ᾱ·x_VE). σ_up = min(σ_next, η·√(σ_next²(σ²−σ_next²)/σ²)),
 * σ_down = √(σ_next² − σ_up²), `x_VE ← x_VE + (x_VE − x₀)/σ·(σ_down − σ) + σ_up·z`.
 * z is drawn every step (σ_up = 0 on the step to σ = 0, where k-diffusion skips the draw).
 */
export async function eulerAncestralStep(denoise: DenoiseFn, x: tf.Tensor4D, k: number, s: StepSchedule, opts: EulerAncestralOptions = {}): Promise<StepResult> {
  const total = checkSchedule(s);
  const at = positionAt(k, total, s.timesteps, 'euler-a');
  const a = s.alphas[at.index]!;
  const aNext = s.alphasPrev[at.index]!;
  const eta = opts.eta ?? 1;
  const sigma = sigmaOf(a);
  const sigmaNext = aNext >= 1 ? 0 : sigmaOf(aNext);
  const sigmaUp = Math.min(sigmaNext, eta * Math.sqrt((sigmaNext * sigmaNext * (sigma * sigma - sigmaNext * sigmaNext)) / (sigma * sigma)));
  const sigmaDown = Math.sqrt(Math.max(sigmaNext * sigmaNext - sigmaUp * sigmaUp, 0));
  return stochasticModelStep(denoise, x, at, 'euler-a', opts.noise, (modelOut, z) => {
    const { x0 } = epsAndX0(x, modelOut, a, opts.parameterization ?? 'eps');
    const xVe = tf.div(x, f32(Math.sqrt(a)));
    const d = tf.div(tf.sub(xVe, x0), f32(sigma)); // to_d
    const xVeNext = tf.add(tf.add(xVe, tf.mul(d, f32(sigmaDown - sigma))), tf.mul(z, f32(sigmaUp * (opts.sNoise ?? 1))));
    return [x0, tf.mul(xVeNext, f32(Math.sqrt(aNext))) as tf.Tensor4D];
  });
}

/** The whole Euler-ancestral loop over every position, from x_T (not disposed). */
export function sampleEulerAncestral(denoise: DenoiseFn, xT: tf.Tensor4D, s: StepSchedule, opts: EulerAncestralOptions = {}): Promise<tf.Tensor4D> {
  return runSteps(checkSchedule(s), xT, opts, (x, k) => eulerAncestralStep(denoise, x, k, s, opts));
}
