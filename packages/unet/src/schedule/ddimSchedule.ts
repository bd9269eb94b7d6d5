import { type DiffusionSchedule } from './registerSchedule.js';

/** The arrays of `DDIMSampler.make_schedule`, by position (position 0 = least noisy). */
export interface DdimSchedule {
  /** `ddim_timesteps`: the full-schedule timesteps whose ᾱ the positions use. */
  ddimTimesteps: number[];
  alphas: Float64Array;
  alphasPrev: Float64Array;
  sigmas: Float64Array;
  sqrtOneMinusAlphas: Float64Array;
}

export interface DdimScheduleOptions {
  /** `ddim_discretize`: `uniform` = range(0, T, T // S); `quad` = ⌊linspace(0, √(0.8T), S)²⌋. */
  discretize?: 'uniform' | 'quad';
  /**
   * Upstream LDM / SD-2.x `make_ddim_timesteps` adds 1 to every timestep (`steps_out = ddim_timesteps + 1`);
   * StableSR's copy does not. Required, so that no caller gets the wrong one by default.
   */
  upstreamPlusOne: boolean;
}

/** The timesteps of `make_ddim_timesteps` for a valid step count, without checking their range. */
function ddimTimestepsUnchecked(numDdpmTimesteps: number, steps: number, opts: DdimScheduleOptions): number[] {
  let ts: number[] = [];
  const method = opts.discretize ?? 'uniform';
  if (method === 'uniform') {
    // Note: when T % S ≠ 0 this yields more than S timesteps — reference behaviour.
    const c = Math.floor(numDdpmTimesteps / steps);
    for (let t = 0; t < numDdpmTimesteps; t += c) ts.push(t);
  } else if (method === 'quad') {
    const end = Math.sqrt(numDdpmTimesteps * 0.8);
    for (let i = 0; i < steps; i++) {
      const v = steps === 1 ? 0 : (end * i) / (steps - 1);
      ts.push(Math.trunc(v * v));
    }
  } else {
    throw new Error(`unknown ddim_discretize "${String(method)}" (available: uniform, quad)`);
  }
  if (opts.upstreamPlusOne) ts = ts.map((t) => t + 1);
  return ts;
}

/** `make_ddim_timesteps` (ldm/modules/diffusionmodules/util.py). */
export function makeDdimTimesteps(numDdpmTimesteps: number, steps: number, opts: DdimScheduleOptions): number[] {
  if (!Number.isInteger(steps) || steps < 1 || steps > numDdpmTimesteps) {
    throw new Error(`DDIM steps must be an integer in [1, ${numDdpmTimesteps}], got ${steps}`);
  }
  const ts = ddimTimestepsUnchecked(numDdpmTimesteps, steps, opts);
  const inRange = (list: number[]) => list.every((t) => t < numDdpmTimesteps);
  if (!inRange(ts)) {
    // range(0, T, T // S) + 1 ends on T when (T − 1) is a multiple of T // S (e.g. 3 steps over 1000): the
    // reference indexes past ᾱ there and fails too, so no step count is silently changed.
    const ok = (s: number) => inRange(ddimTimestepsUnchecked(numDdpmTimesteps, s, opts));
    let lo = steps - 1;
    while (lo >= 1 && !ok(lo)) lo--;
    let hi = steps + 1;
    while (hi <= numDdpmTimesteps && !ok(hi)) hi++;
    const near = [lo >= 1 ? lo : undefined, hi <= numDdpmTimesteps ? hi : undefined].filter((v) => v !== undefined);
    const bad = ts.find((t) => t >= numDdpmTimesteps)!;
    throw new Error(
      `DDIM steps ${steps}: the schedule range(0, ${numDdpmTimesteps}, ${numDdpmTimesteps} // ${steps}) + 1 reaches timestep ${bad}, outside the ${numDdpmTimesteps}-step schedule (the reference fails there too)` +
        (near.length ? `; use e.g. ${near.join(' or ')} steps` : ''),
    );
  }
  return ts;
}

/**
 * `DDIMSampler.make_schedule(S, discretize, eta)` over a full schedule (Song et al. 2021, eq. 16 for σ):
 * `a = ᾱ[ts]`, `a_prev = [ᾱ[0]] + ᾱ[ts[:-1]]`, `σ = η·√((1−a_prev)/(1−a)·(1−a/a_prev))`.
 * ᾱ is read as float32, like the model buffer the reference reads.
 */
export function ddimSchedule(full: DiffusionSchedule, steps: number, eta: number, opts: DdimScheduleOptions): DdimSchedule {
  if (!(eta >= 0)) throw new Error(`ddim_eta must be ≥ 0, got ${eta}`);
  const ts = makeDdimTimesteps(full.numTimesteps, steps, opts);
  const ac = (t: number) => Math.fround(full.alphasCumprod[t]!);
  const n = ts.length;
  const s: DdimSchedule = {
    ddimTimesteps: ts,
    alphas: new Float64Array(n),
    alphasPrev: new Float64Array(n),
    sigmas: new Float64Array(n),
    sqrtOneMinusAlphas: new Float64Array(n),
  };
  for (let i = 0; i < n; i++) {
    const a = ac(ts[i]!);
    const aPrev = i === 0 ? ac(0) : ac(ts[i - 1]!);
    s.alphas[i] = a;
    s.alphasPrev[i] = aPrev;
    s.sigmas[i] = eta * Math.sqrt(((1 - aPrev) / (1 - a)) * (1 - a / aPrev));
    s.sqrtOneMinusAlphas[i] = Math.sqrt(1 - a);
  }
  return s;
}
