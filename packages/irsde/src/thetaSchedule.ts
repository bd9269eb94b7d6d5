/** The θ_t schedules of `IRSDE._initialize` (`codes/utils/sde_utils.py`). */
export const THETA_SCHEDULES = ['cosine', 'linear', 'constant'] as const;
export type ThetaScheduleName = (typeof THETA_SCHEDULES)[number];

const f = Math.fround;

/**
 * θ_0 … θ_T (T + 1 values; index 0 is the unused state t = 0), in float32 as the reference computes them:
 * - `cosine`: the betas of the improved-DDPM cosine schedule (s = 0.008) over T + 2 steps, truncated to T + 1;
 * - `linear`: `linspace(0.1/(T+1)·1000·1e-3 …)`, i.e. DDPM's linear betas rescaled by 1000/(T+1);
 * - `constant`: ones.
 */
export function thetaSchedule(name: ThetaScheduleName, T: number): Float32Array {
  if (!Number.isInteger(T) || T < 1) throw new Error(`IR-SDE: T must be a positive integer, got ${T}`);
  switch (name) {
    case 'constant':
      return new Float32Array(T + 1).fill(1);
    case 'linear': {
      const n = T + 1;
      const scale = 1000 / n;
      return linspace(f(scale * 0.0001), f(scale * 0.02), n);
    }
    case 'cosine': {
      const steps = T + 2;
      const x = linspace(0, steps, steps + 1);
      const s = 0.008;
      const acp = x.map((v) => {
        const c = Math.cos(f(f(f(f(v / steps) + s) / (1 + s)) * f(Math.PI * 0.5)));
        return f(f(c) * f(c));
      });
      const a0 = acp[0]!;
      // betas = 1 − ᾱ_i/ᾱ_0 for i = 1 … T + 1 (the last entry, ᾱ = 0, dropped: "truncating from 1 to −1").
      return Float32Array.from({ length: T + 1 }, (_, i) => f(1 - f(acp[i + 1]! / a0)));
    }
    default:
      throw new Error(`IR-SDE: unknown schedule "${String(name)}" (expected one of ${THETA_SCHEDULES.join(', ')})`);
  }
}

/** `torch.linspace(start, end, n)` in float32: the step from the ends, the second half counted back from `end`. */
function linspace(start: number, end: number, n: number): Float32Array {
  const out = new Float32Array(n);
  if (n === 1) {
    out[0] = start;
    return out;
  }
  const step = f((end - start) / (n - 1));
  const half = Math.floor(n / 2);
  for (let i = 0; i < n; i++) out[i] = i < half ? f(start + f(step * i)) : f(end - f(step * (n - 1 - i)));
  return out;
}
