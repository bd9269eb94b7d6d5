import { encodeImage } from '@stablesr/core';
import { IRSDE_DEFAULTS, type IRSDEUpscaleOptions, type IRSDEUpscaler } from '@stablesr/irsde';
import { type IrsdeDescriptor } from './modelDescriptor.js';
import { type ServiceModel, progressListener } from './serviceModel.js';

/** A loaded {@link IRSDEUpscaler} as a {@link ServiceModel} named `name` (whole jobs only: its tiles are not split). */
export function irsdeServiceModel(model: IRSDEUpscaler, name: string): ServiceModel {
  const descriptor: IrsdeDescriptor = { name, family: 'irsde', defaultScale: model.defaults.scale, timesteps: model.sde.T ?? IRSDE_DEFAULTS.T, defaultSampler: model.defaults.sampler ?? 'posterior', ...(model.defaults.trainedScale !== undefined && { trainedScale: model.defaults.trainedScale }) };
  const notSplit = (): never => {
    throw new Error(`model ${name} is an IR-SDE model: its jobs are never split into patches`);
  };
  return {
    descriptor,
    upscale: async (input, o, ctl) => {
      const { selfEnsemble, ...rest } = o as Record<string, unknown>;
      const r = await model.upscale(input, { ...(rest as IRSDEUpscaleOptions), ...(selfEnsemble !== undefined && { selfEnsemble: selfEnsemble === 'on' }), onProgress: progressListener(ctl), ...(ctl.signal && { signal: ctl.signal }) });
      return { png: await encodeImage(r.image, { format: 'png' }), width: r.image.width, height: r.image.height };
    },
    upscalePatch: notSplit,
    blendPatches: notSplit,
    dispose: () => model.dispose(),
  };
}
