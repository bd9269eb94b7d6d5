import { type ThetaScheduleName, thetaSchedule } from './thetaSchedule.js';

/** `IRSDE(max_sigma, T, schedule, eps)` constructor parameters (`codes/utils/sde_utils.py`), field for field. */
export interface IRSDEConfig {
  /** Stationary noise level λ: a value ≥ 1 is in 8-bit units and divided by 255 (the SR config uses 30). */
  max_sigma: number;
  /** Number of steps; timesteps run 1 … T. Default 100. */
  T?: number;
  /** Default `cosine`. */
  schedule?: ThetaScheduleName;
  /** e^{−θ̄_T·dt}: how far the mean has travelled from x₀ towards μ at t = T. Default 0.01. */
  eps?: number;
}

/** Reference constructor defaults of `IRSDE`. */
export const IRSDE_DEFAULTS = { T: 100, schedule: 'cosine' as ThetaScheduleName, eps: 0.01 } as const;

/**
 * Everything the SDE `dx = θ_t(μ − x)dt + σ_t dw` needs, as plain numbers (no hidden state): arrays have T + 1
 * entries, index 0 being the unused state t = 0. Values are float32, as the reference stores them.
 */
export interface IRSDESchedule {
  readonly T: number;
  /** λ (already divided by 255 where the config gave 8-bit units). */
  readonly maxSigma: number;
  /** −ln(eps)/θ̄_T: the time unit that makes e^{−θ̄_T·dt} = eps. */
  readonly dt: number;
  readonly thetas: Float32Array;
  /** σ_t = √(2λ²θ_t) (so that σ_t²/θ_t = 2λ², the stationary variance condition). */
  readonly sigmas: Float32Array;
  /** θ̄_t = Σ_{i≤t} θ_i − θ_0. */
  readonly thetasCumsum: Float32Array;
  /** σ̄_t = √(λ²(1 − e^{−2θ̄_t·dt})): the marginal std at t. */
  readonly sigmaBars: Float32Array;
}

const f = Math.fround;

/** Builds the schedule of `IRSDE.__init__` (float32 arithmetic, as the reference's tensors). */
export function irsdeSchedule(config: IRSDEConfig): IRSDESchedule {
  const T = config.T ?? IRSDE_DEFAULTS.T;
  const eps = config.eps ?? IRSDE_DEFAULTS.eps;
  const name = config.schedule ?? IRSDE_DEFAULTS.schedule;
  if (!(config.max_sigma > 0) || !Number.isFinite(config.max_sigma)) throw new Error(`IR-SDE: max_sigma must be a positive number, got ${config.max_sigma}`);
  if (!(eps > 0 && eps < 1)) throw new Error(`IR-SDE: eps must lie in (0, 1), got ${eps}`);
  // The reference keeps λ a Python float: every product with a float32 tensor rounds the scalar once.
  const lambda = config.max_sigma >= 1 ? config.max_sigma / 255 : config.max_sigma;
  const maxSigma = f(lambda);
  const thetas = thetaSchedule(name, T);
  const lam2 = f(lambda * lambda);
  const sigmas = thetas.map((th) => f(Math.sqrt(f(f(lambda * lambda * 2) * th))));
  // cumsum in float32, then the θ_0 offset removed ("thetas[0] is not 0").
  const thetasCumsum = new Float32Array(T + 1);
  let acc = 0;
  for (let i = 0; i <= T; i++) {
    acc = f(acc + thetas[i]!);
    thetasCumsum[i] = acc;
  }
  for (let i = 0; i <= T; i++) thetasCumsum[i] = f(thetasCumsum[i]! - thetas[0]!);
  const dt = f(f(-1 / thetasCumsum[T]!) * f(Math.log(eps)));
  const sigmaBars = thetasCumsum.map((c) => f(Math.sqrt(f(lam2 * f(1 - f(Math.exp(f(f(-2 * c) * dt))))))));
  return { T, maxSigma, dt, thetas, sigmas, thetasCumsum, sigmaBars };
}

/** Checks that `t` is a timestep of the schedule (1 … T); `what` names the caller. */
export function checkTimestep(s: IRSDESchedule, t: number, what: string): void {
  if (!Number.isInteger(t) || t < 1 || t > s.T) throw new Error(`${what}: timestep ${t} is outside 1 … ${s.T}`);
}
