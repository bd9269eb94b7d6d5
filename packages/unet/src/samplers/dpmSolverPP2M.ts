import * as tf from '@tensorflow/tfjs-core';
import { type StepSchedule } from '../schedule/stepSchedule.js';
import { epsAndX0, f32 } from './prediction.js';
import { modelStep, positionAt, runSteps } from './stepLoop.js';
import { type DenoiseFn, type SamplerOptions, type StepResult } from './types.js';

export interface DpmSolverPP2MStepOptions extends SamplerOptions {
  /** x₀ prediction of the previous step (position index + 1); absent → first-order update (step 0). */
  prevPredX0?: tf.Tensor4D;
}

/** λ = log(α/σ) = ½·log(ᾱ/(1−ᾱ)), the half log-SNR (Lu et al. 2022). */
function lambda(a: number): number {
  return 0.5 * Math.log(a / (1 - a));
}

function checkSchedule(s: StepSchedule): number {
  const total = s.timesteps.length;
  if (s.alphas.length < total || s.alphasPrev.length < total) throw new Error(`dpmpp-2m: ${total} timesteps but fewer alphas/alphasPrev`);
  return total;
}

/**
 * One step of DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++", Algorithm 2), data-prediction form on
 * the discrete VP schedule (α = √ᾱ, σ = √(1−ᾱ), h = λ_next − λ):
 * `x ← (σ_next/σ)·x − α_next·(e^{−h} − 1)·D`, with D = x₀ at the first step and
 * `D = (1 + 1/(2r))·x₀ − 1/(2r)·x₀_prev`, r = h_prev/h, afterwards. A step landing on ᾱ = 1 returns x₀
 * (first order, like k-diffusion's `sample_dpmpp_2m` at σ = 0). Deterministic: draws no noise.
 * Multistep state is explicit: pass the previous step's `predX0` as `prevPredX0`.
 */
export async function dpmSolverPP2MStep(denoise: DenoiseFn, x: tf.Tensor4D, k: number, s: StepSchedule, opts: DpmSolverPP2MStepOptions = {}): Promise<StepResult> {
  const total = checkSchedule(s);
  const at = positionAt(k, total, s.timesteps, 'dpmpp-2m');
  const i = at.index;
  const a = s.alphas[i]!;
  const aNext = s.alphasPrev[i]!;
  return modelStep(denoise, x, at, 'dpmpp-2m', (modelOut) => {
    const { x0 } = epsAndX0(x, modelOut, a, opts.parameterization ?? 'eps');
    if (aNext >= 1) return [x0, x0.clone()];
    const h = lambda(aNext) - lambda(a);
    let d: tf.Tensor = x0;
    const prev = opts.prevPredX0;
    if (prev && i + 1 < total) {
      const hLast = lambda(a) - lambda(s.alphas[i + 1]!);
      const r = hLast / h;
      d = tf.sub(tf.mul(f32(1 + 1 / (2 * r)), x0), tf.mul(f32(1 / (2 * r)), prev));
    }
    const sigmaRatio = Math.sqrt(1 - aNext) / Math.sqrt(1 - a);
    const xNext = tf.sub(tf.mul(f32(sigmaRatio), x), tf.mul(f32(Math.sqrt(aNext) * Math.expm1(-h)), d));
    return [x0, xNext as tf.Tensor4D];
  });
}

/** The whole DPM-Solver++(2M) loop over every position, from x_T (not disposed). */
export function sampleDpmSolverPP2M(denoise: DenoiseFn, xT: tf.Tensor4D, s: StepSchedule, opts: SamplerOptions = {}): Promise<tf.Tensor4D> {
  return runSteps(checkSchedule(s), xT, opts, (x, k, prev) => dpmSolverPP2MStep(denoise, x, k, s, { ...opts, prevPredX0: prev?.predX0 }));
}
