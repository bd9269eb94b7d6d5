import * as tf from '@tensorflow/tfjs-core';
import { type ProgressCallback } from '@stablesr/core';
import { type SRModels, type StructCond } from './srModels.js';
import { type UpscaleTimings } from './upscaleResult.js';

/** The networks of one upscale call wrapped to time their stages and count U-Net evaluations. */
export interface InstrumentedModels {
  models: SRModels;
  timings: UpscaleTimings;
  /** U-Net evaluations so far. */
  evaluations(): number;
}

/**
 * Wraps each network call to time it into its stage (`encode`, `sample`, `decode`); engine sessions built meanwhile
 * (the first call of a shape) count as `load`, read off `buildSeconds` (the engine's running total). Each U-Net
 * evaluation reports `sample` progress out of `total`, the evaluations the pipeline's plan foresees.
 */
export function instrumentModels(m: SRModels, buildSeconds: () => number, total: number, onProgress?: ProgressCallback): InstrumentedModels {
  const timings: UpscaleTimings = { load: 0, encode: 0, sample: 0, decode: 0, total: 0 };
  let done = 0;
  const timed = <A extends unknown[], R>(stage: 'encode' | 'sample' | 'decode', fn: (...a: A) => R | Promise<R>) => async (...a: A): Promise<R> => {
    const b0 = buildSeconds();
    const t1 = performance.now();
    try {
      return await fn(...a);
    } finally {
      const built = buildSeconds() - b0;
      timings.load += built;
      timings[stage] += (performance.now() - t1) / 1000 - built;
    }
  };
  const models: SRModels = {
    ...m,
    encodeFirstStage: timed('encode', m.encodeFirstStage),
    decodeFirstStage: timed('decode', m.decodeFirstStage),
    structCond: timed('sample', m.structCond),
    unet: timed('sample', async (x: tf.Tensor4D, t: readonly number[], c: tf.Tensor3D, sc: StructCond) => {
      const out = await m.unet(x, t, c, sc);
      done++;
      onProgress?.({ stage: 'sample', done, total, detail: { t: t[0]! } });
      return out;
    }),
    ...(m.cfw ? { cfw: { encode: timed('decode', m.cfw.encode), decode: timed('decode', m.cfw.decode) } } : {}),
  };
  return { models, timings, evaluations: () => done };
}
