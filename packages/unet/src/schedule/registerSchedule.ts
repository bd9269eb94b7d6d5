import { type BetaScheduleKind, type BetaScheduleOptions, makeBetaSchedule } from './betaSchedule.js';

/**
 * Every per-timestep array of `DDPM.register_schedule` (ldm/models/diffusion/ddpm.py), float64.
 * Index i is timestep i of this schedule (for a respaced schedule: the respaced index).
 */
export interface DiffusionSchedule {
  numTimesteps: number;
  betas: Float64Array;
  alphas: Float64Array;
  alphasCumprod: Float64Array;
  alphasCumprodPrev: Float64Array;
  sqrtAlphasCumprod: Float64Array;
  sqrtOneMinusAlphasCumprod: Float64Array;
  logOneMinusAlphasCumprod: Float64Array;
  sqrtRecipAlphasCumprod: Float64Array;
  sqrtRecipm1AlphasCumprod: Float64Array;
  posteriorVariance: Float64Array;
  posteriorLogVarianceClipped: Float64Array;
  posteriorMeanCoef1: Float64Array;
  posteriorMeanCoef2: Float64Array;
}

export type ScheduleArrayName = Exclude<keyof DiffusionSchedule, 'numTimesteps'>;

/** Reference buffer names (as in checkpoints and fixtures) → field of {@link DiffusionSchedule}. */
export const SCHEDULE_BUFFER_NAMES: Readonly<Record<string, ScheduleArrayName>> = {
  betas: 'betas',
  alphas_cumprod: 'alphasCumprod',
  alphas_cumprod_prev: 'alphasCumprodPrev',
  sqrt_alphas_cumprod: 'sqrtAlphasCumprod',
  sqrt_one_minus_alphas_cumprod: 'sqrtOneMinusAlphasCumprod',
  log_one_minus_alphas_cumprod: 'logOneMinusAlphasCumprod',
  sqrt_recip_alphas_cumprod: 'sqrtRecipAlphasCumprod',
  sqrt_recipm1_alphas_cumprod: 'sqrtRecipm1AlphasCumprod',
  posterior_variance: 'posteriorVariance',
  posterior_log_variance_clipped: 'posteriorLogVarianceClipped',
  posterior_mean_coef1: 'posteriorMeanCoef1',
  posterior_mean_coef2: 'posteriorMeanCoef2',
};

export interface RegisterScheduleOptions {
  /** Weight of β_t in the posterior variance (`v_posterior`, LDM default 0: σ² = β̃_t). */
  vPosterior?: number;
}

/**
 * Derives every array of the DDPM forward process and posterior from the betas
 * (Ho et al. 2020; `register_schedule` with `given_betas`).
 */
export function scheduleFromBetas(betasIn: ArrayLike<number>, opts: RegisterScheduleOptions = {}): DiffusionSchedule {
  const n = betasIn.length;
  if (n < 1) throw new Error('scheduleFromBetas: no betas given');
  const v = opts.vPosterior ?? 0;
  const f = () => new Float64Array(n);
  const s: DiffusionSchedule = {
    numTimesteps: n,
    betas: Float64Array.from(betasIn),
    alphas: f(), alphasCumprod: f(), alphasCumprodPrev: f(), sqrtAlphasCumprod: f(), sqrtOneMinusAlphasCumprod: f(),
    logOneMinusAlphasCumprod: f(), sqrtRecipAlphasCumprod: f(), sqrtRecipm1AlphasCumprod: f(), posteriorVariance: f(),
    posteriorLogVarianceClipped: f(), posteriorMeanCoef1: f(), posteriorMeanCoef2: f(),
  };
  let ac = 1;
  for (let i = 0; i < n; i++) {
    const beta = s.betas[i]!;
    if (!(beta > 0 && beta < 1)) throw new Error(`scheduleFromBetas: beta[${i}] = ${beta} is outside (0, 1)`);
    const alpha = 1 - beta;
    const acPrev = ac;
    ac *= alpha; // ᾱ_t = Π α_s (Ho et al. 2020, eq. 4)
    s.alphas[i] = alpha;
    s.alphasCumprod[i] = ac;
    s.alphasCumprodPrev[i] = acPrev;
    s.sqrtAlphasCumprod[i] = Math.sqrt(ac);
    s.sqrtOneMinusAlphasCumprod[i] = Math.sqrt(1 - ac);
    s.logOneMinusAlphasCumprod[i] = Math.log(1 - ac);
    s.sqrtRecipAlphasCumprod[i] = Math.sqrt(1 / ac);
    s.sqrtRecipm1AlphasCumprod[i] = Math.sqrt(1 / ac - 1);
    // Posterior q(x_{t−1} | x_t, x_0) (Ho et al. 2020, eqs. 6–7): β̃_t and the two mean coefficients.
    const pv = ((1 - v) * beta * (1 - acPrev)) / (1 - ac) + v * beta;
    s.posteriorVariance[i] = pv;
    // The variance is 0 at t = 0; the log is clipped as in the reference.
    s.posteriorLogVarianceClipped[i] = Math.log(Math.max(pv, 1e-20));
    s.posteriorMeanCoef1[i] = (beta * Math.sqrt(acPrev)) / (1 - ac);
    s.posteriorMeanCoef2[i] = ((1 - acPrev) * Math.sqrt(alpha)) / (1 - ac);
  }
  return s;
}

export interface ScheduleConfig extends BetaScheduleOptions, RegisterScheduleOptions {
  betaSchedule?: BetaScheduleKind;
  timesteps?: number;
}

/**
 * `DDPM.register_schedule(beta_schedule, timesteps, linear_start, linear_end, cosine_s)`.
 * Defaults are the SD / StableSR ones: linear, 1000 steps, 0.00085 → 0.012.
 */
export function registerSchedule(cfg: ScheduleConfig = {}): DiffusionSchedule {
  const betas = makeBetaSchedule(cfg.betaSchedule ?? 'linear', cfg.timesteps ?? 1000, {
    linearStart: cfg.linearStart ?? 0.00085,
    linearEnd: cfg.linearEnd ?? 0.012,
    cosineS: cfg.cosineS,
  });
  return scheduleFromBetas(betas, cfg);
}
