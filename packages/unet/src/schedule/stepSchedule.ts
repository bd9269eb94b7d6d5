import { type DiffusionSchedule } from './registerSchedule.js';

/**
 * A sampler's positions over a full schedule: position i (0 = least noisy) evaluates the network at
 * `timesteps[i]` with ᾱ = `alphas[i]`, and its update lands on ᾱ = `alphasPrev[i]`.
 */
export interface StepSchedule {
  timesteps: number[];
  alphas: Float64Array;
  alphasPrev: Float64Array;
}

export interface StepScheduleOptions {
  /**
   * Where the last update lands: `clean` = ᾱ 1 (σ = 0, as k-diffusion's appended zero sigma), or
   * `first` = ᾱ[0] of the full schedule (as LDM's DDIM `alphas_prev[0]`).
   */
  final?: 'clean' | 'first';
}

/** Positions at the given full-schedule timesteps (any order; sorted ascending). ᾱ read as float32. */
export function stepSchedule(full: DiffusionSchedule, timesteps: readonly number[], opts: StepScheduleOptions = {}): StepSchedule {
  const ts = [...new Set(timesteps)].sort((a, b) => a - b);
  if (ts.length === 0) throw new Error('stepSchedule: no timesteps given');
  const ac = (t: number) => {
    if (!Number.isInteger(t) || t < 0 || t >= full.numTimesteps) throw new Error(`stepSchedule: timestep ${t} is outside [0, ${full.numTimesteps})`);
    return Math.fround(full.alphasCumprod[t]!);
  };
  const alphas = Float64Array.from(ts, ac);
  const alphasPrev = new Float64Array(ts.length);
  alphasPrev[0] = (opts.final ?? 'clean') === 'clean' ? 1 : ac(0);
  for (let i = 1; i < ts.length; i++) alphasPrev[i] = alphas[i - 1]!;
  return { timesteps: ts, alphas, alphasPrev };
}
