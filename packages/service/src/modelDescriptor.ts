import { type PlanModel, type UpscaleModelLimits } from '@stablesr/stablesr';

/**
 * What the API needs to know about a loaded model to validate and plan a request without the model itself: a
 * worker publishes it when it starts (Redis mode), so `serve` checks options against the model's limits and knows
 * the output size and the pixel patches before anything runs.
 */
export type ModelDescriptor = StableSRDescriptor | IrsdeDescriptor;

export interface StableSRDescriptor {
  /** The `model` query parameter that selects it. */
  name: string;
  family: 'stablesr';
  limits: UpscaleModelLimits;
  plan: PlanModel;
  parameterization: 'eps' | 'v';
}

export interface IrsdeDescriptor {
  name: string;
  family: 'irsde';
  /** Scale used when the request gives none. */
  defaultScale: number;
  /** The model's T: `steps` is at most this. */
  timesteps: number;
  /** Sampler used when the request gives none. */
  defaultSampler: 'sde' | 'posterior';
  /** The only scale a model trained by `stablesr train` takes (its μ is that bicubic upscale). */
  trainedScale?: number;
}
