import * as tf from '@tensorflow/tfjs-core';
import { type IRSDESchedule, checkTimestep } from './irsdeSchedule.js';

/**
 * A timestep for the whole batch, or one per sample (training and `irsde.step` use t of shape [B, 1, 1, 1]).
 * Timesteps run 1 … T.
 */
export type Timesteps = number | readonly number[];

/**
 * The per-sample coefficient `value(t)` as something `tf.mul`/`tf.add` broadcast over a batch of maps or tokens:
 * a plain number for one timestep, a [B, 1, 1, 1] tensor (made in the caller's tidy) for one per sample.
 */
export function coefficient(s: IRSDESchedule, t: Timesteps, what: string, value: (t: number) => number): number | tf.Tensor {
  if (typeof t === 'number') {
    checkTimestep(s, t, what);
    return value(t);
  }
  if (t.length === 0) throw new Error(`${what}: no timesteps given`);
  for (const ti of t) checkTimestep(s, ti, what);
  return tf.tensor4d(Float32Array.from(t, value), [t.length, 1, 1, 1]);
}
