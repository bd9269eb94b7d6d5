import { type SamplingParams, type SuperResolveRun } from './srPipeline.js';
import { canvasRecipe } from './srRecipe.js';
import { type StableSRConfig } from './stableSRConfig.js';
import { type ResolvedUpscaleOptions } from './upscaleOptions.js';

/**
 * The pipeline settings of one {@link StableSR.upscale} call: the canvas recipe of the sampler, the resolved
 * options and the config's parameterization. With `planFor` this gives the plan the call runs.
 */
export function upscaleRun(o: ResolvedUpscaleOptions, config: Pick<StableSRConfig, 'parameterization'>): { sampling: SamplingParams; run: SuperResolveRun } {
  return {
    sampling: { sampler: o.sampler, steps: o.steps, eta: o.eta, parameterization: config.parameterization, tileSize: o.tileSize, tileOverlap: o.tileOverlap },
    run: { recipe: canvasRecipe(o.sampler), upscale: o.scale, inputSize: o.inputSize, patchSize: o.patchSize, patchStride: o.patchStride },
  };
}
