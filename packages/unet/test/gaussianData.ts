// Test support: data x₀ ~ N(μ_c, s_c²) independently per channel, whose exact denoiser is known in closed form.
import * as tf from '@tensorflow/tfjs-core';
import { type NoiseSource } from '@stablesr/core';
import { type DiffusionSchedule } from '../src/schedule/index.js';
import { type DenoiseFn, type Parameterization, type SamplerPosition } from '../src/samplers/index.js';

export interface GaussianData {
  mu: number[];
  s: number[];
}

/**
 * The exact denoiser of x_t = √a·x₀ + √(1−a)·ε for Gaussian x₀: E[x₀ | x_t] = μ + g·(x_t − √a·μ) with
 * g = √a·s² / (a·s² + 1 − a); ε̂ = (x_t − √a·x̂₀)/√(1−a); v̂ = √a·ε̂ − √(1−a)·x̂₀. `a` = ᾱ at the network timestep.
 * `alphaOf` gives ᾱ by network timestep (a schedule) or by position. `tamper` lets a test break it on purpose.
 */
export function gaussianDenoiser(
  data: GaussianData,
  alphaOf: DiffusionSchedule | ((at: SamplerPosition) => number),
  param: Parameterization,
  tamper?: (x0: tf.Tensor) => tf.Tensor,
): DenoiseFn {
  const alphaAt = typeof alphaOf === 'function' ? alphaOf : (at: SamplerPosition) => Math.fround(alphaOf.alphasCumprod[at.t]!);
  return (x, at) =>
    tf.tidy(() => {
      const a = alphaAt(at);
      const mu = tf.tensor1d(data.mu);
      const g = tf.tensor1d(data.s.map((s) => (Math.sqrt(a) * s * s) / (a * s * s + 1 - a)));
      let x0 = tf.add(mu, tf.mul(g, tf.sub(x, tf.mul(mu, Math.sqrt(a)))));
      if (tamper) x0 = tamper(x0);
      const eps = tf.div(tf.sub(x, tf.mul(x0, Math.sqrt(a))), Math.sqrt(1 - a));
      return (param === 'eps' ? eps : tf.sub(tf.mul(eps, Math.sqrt(a)), tf.mul(x0, Math.sqrt(1 - a)))) as tf.Tensor4D;
    });
}

/** A sample of the exact marginal at ᾱ = a: √a·μ + √(a·s² + 1 − a)·z, shape [1, h, w, C]. */
export function marginalSample(data: GaussianData, a: number, h: number, w: number, noise: NoiseSource): tf.Tensor4D {
  const z = noise.draw([1, h, w, data.mu.length], 'x_T');
  const out = tf.tidy(() =>
    tf.add(
      tf.mul(tf.tensor1d(data.mu), Math.sqrt(a)),
      tf.mul(z, tf.tensor1d(data.s.map((s) => Math.sqrt(a * s * s + 1 - a)))),
    ),
  ) as tf.Tensor4D;
  z.dispose();
  return out;
}

/** Per-channel sample mean and standard deviation of an NHWC tensor. */
export function channelStats(x: tf.Tensor4D): { mean: number[]; std: number[] } {
  const C = x.shape[3];
  const d = x.dataSync();
  const n = d.length / C;
  const mean = new Array<number>(C).fill(0);
  const sq = new Array<number>(C).fill(0);
  for (let i = 0; i < d.length; i++) mean[i % C]! += d[i]!;
  for (let c = 0; c < C; c++) mean[c]! /= n;
  for (let i = 0; i < d.length; i++) sq[i % C]! += (d[i]! - mean[i % C]!) ** 2;
  return { mean, std: sq.map((v) => Math.sqrt(v / (n - 1))) };
}

/**
 * Whether per-channel statistics match N(√a·μ, a·s² + 1 − a) for the final ᾱ = a: |mean error| ≤ meanTol·target std
 * and |std/target − 1| ≤ stdTol. Returns the problems (empty when it matches).
 */
export function distributionProblems(stats: { mean: number[]; std: number[] }, data: GaussianData, a: number, meanTol: number, stdTol: number): string[] {
  const problems: string[] = [];
  data.mu.forEach((mu, c) => {
    const s = data.s[c]!;
    const tm = Math.sqrt(a) * mu;
    const ts = Math.sqrt(a * s * s + 1 - a);
    const m = stats.mean[c]!;
    const sd = stats.std[c]!;
    if (!(Math.abs(m - tm) <= meanTol * ts)) problems.push(`channel ${c}: mean ${m.toFixed(4)} vs ${tm.toFixed(4)}`);
    if (!(Math.abs(sd / ts - 1) <= stdTol)) problems.push(`channel ${c}: std ${sd.toFixed(4)} vs ${ts.toFixed(4)}`);
  });
  return problems;
}
