import { type DiffusionSchedule, type RegisterScheduleOptions, scheduleFromBetas } from './registerSchedule.js';

/** A schedule over a subset of the original timesteps; `timestepMap[i]` is what the networks see at index i. */
export interface RespacedSchedule extends DiffusionSchedule {
  timestepMap: number[];
}

/**
 * Respacing as the StableSR DDPM scripts do it (Nichol & Dhariwal 2021, sec. 4: keep ᾱ at the used
 * timesteps): walking the float32 `alphas_cumprod` buffer of the full schedule,
 * `β'_i = 1 − ᾱ[t_i] / ᾱ[t_{i−1}]` (ᾱ[t_{−1}] = 1), evaluated in float32 like the torch scalars of the
 * script, then every array is re-derived from these betas.
 */
export function respaceSchedule(full: DiffusionSchedule, useTimesteps: readonly number[], opts: RegisterScheduleOptions = {}): RespacedSchedule {
  const use = [...new Set(useTimesteps)].sort((a, b) => a - b);
  if (use.length === 0) throw new Error('respaceSchedule: no timesteps to use');
  for (const t of use) {
    if (!Number.isInteger(t) || t < 0 || t >= full.numTimesteps) {
      throw new Error(`respaceSchedule: timestep ${t} is outside the full schedule [0, ${full.numTimesteps})`);
    }
  }
  const f32 = Math.fround;
  const betas = new Float64Array(use.length);
  let last = 1;
  use.forEach((t, i) => {
    const ac = f32(full.alphasCumprod[t]!);
    betas[i] = f32(1 - f32(ac / last));
    last = ac;
  });
  return { ...scheduleFromBetas(betas, opts), timestepMap: use };
}
