import { type RawImage, matlabResize, psnrY, ssimY } from '@stablesr/core';
import { type IRSDEUpscaler, type IRSDESamplerName } from '@stablesr/irsde';
import { degradeBicubic } from '@stablesr/train';
import sharp from 'sharp';
import { type EvaluationCrop } from './evaluationCrops.js';

/** An upscaler under evaluation: 8-bit LR RGB in, 8-bit ×4 RGB out. */
export interface EvaluatedMethod {
  name: string;
  run: (lr: RawImage) => Promise<Uint8Array>;
}

/** Mean PSNR-Y / SSIM-Y (shave = scale) and seconds per crop of one method over the crops, plus per-crop PSNR. */
export interface MethodScore {
  name: string;
  psnr: number;
  ssim: number;
  secondsPerCrop: number;
  perCrop: number[];
}

/** The LR input of a crop exactly as training made it: MATLAB bicubic ÷scale, rounded to 8 bits. */
export function lowResolution(crop: EvaluationCrop, scale: number): RawImage {
  const f = Float32Array.from(crop.hr, (v) => v / 255);
  const lq = degradeBicubic(f, crop.side, crop.side, scale);
  return { data: Uint8Array.from(lq, (v) => Math.round(v * 255)), width: crop.side / scale, height: crop.side / scale, channels: 3 };
}

const to8 = (f: Float32Array): Uint8Array => Uint8Array.from(f, (v) => Math.round(Math.min(1, Math.max(0, v)) * 255));

/** MATLAB `imresize(lr, scale, 'bicubic')`: the bicubic of SR papers' tables. */
export const bicubic = (scale: number): EvaluatedMethod => ({
  name: 'bicubic (MATLAB imresize)',
  run: async (lr) => to8(matlabResize(Float32Array.from(lr.data, (v) => v / 255), lr.height, lr.width, 3, lr.height * scale, lr.width * scale)),
});

/** libvips Lanczos-3 (sharp `resize`, kernel lanczos3). */
export const lanczos = (scale: number): EvaluatedMethod => ({
  name: 'Lanczos-3 (sharp)',
  run: async (lr) => new Uint8Array(await sharp(Buffer.from(lr.data), { raw: { width: lr.width, height: lr.height, channels: 3 } }).resize(lr.width * scale, lr.height * scale, { kernel: 'lanczos3' }).raw().toBuffer()),
});

/** An IR-SDE model with a sampler, step count, noise temperature and self-ensemble setting, seed 0. */
export const irsdeMethod = (name: string, model: IRSDEUpscaler, sampler: IRSDESamplerName, steps?: number, temperature?: number, selfEnsemble = false): EvaluatedMethod => ({
  name,
  run: async (lr) => (await model.upscale(lr, { sampler, seed: 0, selfEnsemble, ...(steps !== undefined && { steps }), ...(temperature !== undefined && { temperature }) })).image.data as Uint8Array,
});

export async function scoreMethod(method: EvaluatedMethod, crops: readonly EvaluationCrop[], scale: number, onCrop?: (i: number) => void): Promise<MethodScore> {
  const perCrop: number[] = [];
  let ssim = 0;
  let seconds = 0;
  for (const [i, c] of crops.entries()) {
    const lr = lowResolution(c, scale);
    const t0 = performance.now();
    const sr = await method.run(lr);
    seconds += (performance.now() - t0) / 1000;
    if (sr.length !== c.hr.length) throw new Error(`${method.name}: ${sr.length} values for a ${c.side}² crop`);
    perCrop.push(psnrY(sr, c.hr, c.side, c.side, scale));
    ssim += ssimY(sr, c.hr, c.side, c.side, scale);
    onCrop?.(i);
  }
  return { name: method.name, psnr: perCrop.reduce((a, b) => a + b, 0) / crops.length, ssim: ssim / crops.length, secondsPerCrop: seconds / crops.length, perCrop };
}
