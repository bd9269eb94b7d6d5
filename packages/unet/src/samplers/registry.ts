import type * as tf from '@tensorflow/tfjs-core';
import { ddimSchedule } from '../schedule/ddimSchedule.js';
import { type DiffusionSchedule } from '../schedule/registerSchedule.js';
import { respaceSchedule } from '../schedule/respaceSchedule.js';
import { spaceTimesteps } from '../schedule/spaceTimesteps.js';
import { stepSchedule } from '../schedule/stepSchedule.js';
import { sampleDdim } from './ddim.js';
import { sampleDdpm } from './ddpm.js';
import { sampleDpmSolverPP2M } from './dpmSolverPP2M.js';
import { sampleEulerAncestral } from './eulerAncestral.js';
import { type DenoiseFn, type SamplerOptions } from './types.js';

export const samplerNames = ['ddpm', 'ddim', 'dpmpp-2m', 'euler-a'] as const;
export type SamplerName = (typeof samplerNames)[number];

export interface SamplerRunOptions extends SamplerOptions {
  /** DDIM η (default 0) or Euler-ancestral η (default 1); ignored by the others. */
  eta?: number;
  /** DDPM only: clamp x₀ to [−1, 1]. */
  clipDenoised?: boolean;
}

/** A sampler with the text-to-image (SD-2.x) timestep conventions, ready to run `steps` steps over a full schedule. */
export interface SamplerDefinition {
  name: SamplerName;
  /** Draws one `step` noise per step (so it needs `opts.noise`). */
  stochastic: boolean;
  /** Network timesteps of the positions, ascending (position 0 is evaluated last). */
  timesteps(full: DiffusionSchedule, steps: number): number[];
  sample(denoise: DenoiseFn, xT: tf.Tensor4D, full: DiffusionSchedule, steps: number, opts?: SamplerRunOptions): Promise<tf.Tensor4D>;
}

// Upstream LDM / SD-2.x DDIM timesteps (range(0, T, T // S) + 1); the k-diffusion style solvers use the
// same positions and finish on ᾱ = 1.
const upstreamDdim = (full: DiffusionSchedule, steps: number, eta = 0) => ddimSchedule(full, steps, eta, { discretize: 'uniform', upstreamPlusOne: true });

const definitions: Record<SamplerName, SamplerDefinition> = {
  ddpm: {
    name: 'ddpm',
    stochastic: true,
    timesteps: (full, steps) => spaceTimesteps(full.numTimesteps, [steps]),
    sample: (denoise, xT, full, steps, opts = {}) => sampleDdpm(denoise, xT, respaceSchedule(full, spaceTimesteps(full.numTimesteps, [steps])), opts),
  },
  ddim: {
    name: 'ddim',
    stochastic: true,
    timesteps: (full, steps) => upstreamDdim(full, steps).ddimTimesteps,
    sample: (denoise, xT, full, steps, opts = {}) => {
      const d = upstreamDdim(full, steps, opts.eta ?? 0);
      return sampleDdim(denoise, xT, { ...d, timesteps: d.ddimTimesteps }, { ...opts, vX0: 'direct' });
    },
  },
  'dpmpp-2m': {
    name: 'dpmpp-2m',
    stochastic: false,
    timesteps: (full, steps) => upstreamDdim(full, steps).ddimTimesteps,
    sample: (denoise, xT, full, steps, opts = {}) => sampleDpmSolverPP2M(denoise, xT, stepSchedule(full, upstreamDdim(full, steps).ddimTimesteps), opts),
  },
  'euler-a': {
    name: 'euler-a',
    stochastic: true,
    timesteps: (full, steps) => upstreamDdim(full, steps).ddimTimesteps,
    sample: (denoise, xT, full, steps, opts = {}) => sampleEulerAncestral(denoise, xT, stepSchedule(full, upstreamDdim(full, steps).ddimTimesteps), opts),
  },
};

/** The sampler called `name`; unknown names are an error listing the available ones. */
export function getSampler(name: string): SamplerDefinition {
  const d = (definitions as Record<string, SamplerDefinition | undefined>)[name];
  if (!d) throw new Error(`unknown sampler "${name}" (available: ${samplerNames.join(', ')})`);
  return d;
}
