import { encodeImage } from '@stablesr/core';
import { type PatchOutput, type StableSR, type UpscaleOptions } from '@stablesr/stablesr';
import { type StableSRDescriptor } from './modelDescriptor.js';
import { type EncodedResult, type JobControl, type ServiceModel, progressListener } from './serviceModel.js';
import { type RequestOptions } from './upscaleRequest.js';

/** A loaded {@link StableSR} as a {@link ServiceModel} named `name`. */
export function stableSRServiceModel(sr: StableSR, name: string): ServiceModel {
  const models = sr.models;
  const descriptor: StableSRDescriptor = {
    name,
    family: 'stablesr',
    limits: { timesteps: sr.config.timesteps, imageSize: sr.config.image_size, downFactor: models.unetDownFactor, downsampling: models.downsampling },
    plan: { downsampling: models.downsampling, unetDownFactor: models.unetDownFactor },
    parameterization: sr.config.parameterization,
  };
  const opts = (o: RequestOptions, ctl: JobControl): UpscaleOptions => ({ ...(o as UpscaleOptions), onProgress: progressListener(ctl), ...(ctl.signal && { signal: ctl.signal }) });
  const encode = async (r: { image: Parameters<typeof encodeImage>[0] & { width: number; height: number } }): Promise<EncodedResult> => ({ png: await encodeImage(r.image, { format: 'png' }), width: r.image.width, height: r.image.height });
  return {
    descriptor,
    upscale: async (input, o, ctl) => encode(await sr.upscale(input, opts(o, ctl))),
    upscalePatch: (input, o, index, ctl): Promise<PatchOutput> => sr.upscalePatch(input, index, opts(o, ctl)),
    blendPatches: async (input, o, patches) => encode(await sr.blendPatches(input, patches, o as UpscaleOptions)),
    dispose: () => sr.dispose(),
  };
}
