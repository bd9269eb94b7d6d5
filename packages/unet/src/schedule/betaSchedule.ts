/**
 * Beta schedules of latent diffusion (`make_beta_schedule`, ldm/modules/diffusionmodules/util.py), in float64.
 *
 * Naming clash to be aware of: LDM's `linear` is linear in √β (β = linspace(√start, √end)²), which
 * diffusers calls `scaled_linear`; diffusers' `linear` (linear in β) is LDM's `sqrt_linear`.
 * Both LDM names and the diffusers alias `scaled_linear` are accepted; diffusers' `linear` is not,
 * because it would silently mean something else here.
 */
export type BetaScheduleKind = 'linear' | 'scaled_linear' | 'sqrt_linear' | 'sqrt' | 'cosine';

export interface BetaScheduleOptions {
  linearStart?: number;
  linearEnd?: number;
  /** Offset s of the cosine schedule (Nichol & Dhariwal 2021, eq. 17). */
  cosineS?: number;
}

export const BETA_SCHEDULE_KINDS: readonly BetaScheduleKind[] = ['linear', 'scaled_linear', 'sqrt_linear', 'sqrt', 'cosine'];

/**
 * `torch.linspace(start, end, n, dtype=float64)`: torch fills the first half forwards from `start`
 * and the second half backwards from `end`, so both endpoints are exact.
 */
export function linspace(start: number, end: number, n: number): Float64Array {
  const out = new Float64Array(n);
  if (n === 1) {
    out[0] = start;
    return out;
  }
  const step = (end - start) / (n - 1);
  const half = Math.floor(n / 2);
  for (let i = 0; i < n; i++) out[i] = i < half ? start + step * i : end - step * (n - 1 - i);
  return out;
}

/** β_1…β_T for `numTimesteps` steps (LDM defaults: start 1e-4, end 2e-2, cosine s 8e-3). */
export function makeBetaSchedule(kind: BetaScheduleKind, numTimesteps: number, opts: BetaScheduleOptions = {}): Float64Array {
  if (!Number.isInteger(numTimesteps) || numTimesteps < 1) throw new Error(`makeBetaSchedule: numTimesteps must be a positive integer, got ${numTimesteps}`);
  const start = opts.linearStart ?? 1e-4;
  const end = opts.linearEnd ?? 2e-2;
  switch (kind) {
    case 'linear':
    case 'scaled_linear': {
      const b = linspace(Math.sqrt(start), Math.sqrt(end), numTimesteps);
      for (let i = 0; i < b.length; i++) b[i] = b[i]! * b[i]!;
      return b;
    }
    case 'sqrt_linear':
      return linspace(start, end, numTimesteps);
    case 'sqrt': {
      const b = linspace(start, end, numTimesteps);
      for (let i = 0; i < b.length; i++) b[i] = Math.sqrt(b[i]!);
      return b;
    }
    case 'cosine': {
      // Nichol & Dhariwal 2021, eq. 17: ᾱ(t) = f(t)/f(0), f(t) = cos²((t/T + s)/(1 + s) · π/2);
      // β_t = 1 − ᾱ_t/ᾱ_{t−1}, clipped to [0, 0.999] (eq. 17's note) as LDM does.
      const s = opts.cosineS ?? 8e-3;
      const f = new Float64Array(numTimesteps + 1);
      for (let i = 0; i <= numTimesteps; i++) {
        const c = Math.cos(((i / numTimesteps + s) / (1 + s)) * (Math.PI / 2));
        f[i] = c * c;
      }
      const f0 = f[0]!;
      for (let i = 0; i <= numTimesteps; i++) f[i] = f[i]! / f0;
      const b = new Float64Array(numTimesteps);
      for (let i = 0; i < numTimesteps; i++) b[i] = Math.min(Math.max(1 - f[i + 1]! / f[i]!, 0), 0.999);
      return b;
    }
    default:
      throw new Error(`unknown beta schedule "${String(kind)}" (available: ${BETA_SCHEDULE_KINDS.join(', ')})`);
  }
}
