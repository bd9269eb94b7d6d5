// Test helpers: synthetic checkpoints for arbitrary configs, and tensor comparisons.
import * as tf from '@tensorflow/tfjs-core';
import { SeededNoise, type TensorEntry, type TensorSource, type WeightView, type Weights, recordWeightRequests, weightsFromSource } from '@stablesr/core';

/** Key → stored shape of everything `load` reads. */
export function recordKeys<M>(load: (view: WeightView) => M, dispose: (m: M) => void): Map<string, number[]> {
  return recordWeightRequests(load, dispose);
}

/**
 * An in-memory checkpoint with the given keys, drawn like the fixtures' weights: biases 0.1·N(0,1),
 * other 1-D tensors 1 + 0.1·N(0,1), others N(0,1)/√fan_in.
 */
export function syntheticWeights(keys: ReadonlyMap<string, number[]>, seed: number, prefix = ''): Weights {
  const rng = new SeededNoise(seed);
  const entries = new Map<string, TensorEntry>();
  for (const [k, shape] of keys) {
    const n = shape.reduce((a, b) => a * b, 1);
    const z = rng.normals(n);
    const fan = shape.slice(1).reduce((a, b) => a * b, 1);
    const data = z.map((x) => (k.endsWith('bias') ? 0.1 * x : shape.length === 1 ? 1 + 0.1 * x : x / Math.sqrt(fan)));
    entries.set(prefix + k, { name: prefix + k, dtype: 'F32', shape, read: () => data.slice() });
  }
  const source: TensorSource = { origin: `synthetic(${seed})`, metadata: {}, entries: () => entries, close: () => {} };
  return weightsFromSource(source);
}

/** max |a − b| and the value range of b. */
export function maxDiff(a: tf.Tensor, b: tf.Tensor): { maxAbs: number; range: number } {
  if (a.shape.join() !== b.shape.join()) throw new Error(`shapes differ: [${a.shape}] vs [${b.shape}]`);
  const da = a.dataSync();
  const db = b.dataSync();
  let maxAbs = 0;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < da.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(da[i]! - db[i]!));
    lo = Math.min(lo, db[i]!);
    hi = Math.max(hi, db[i]!);
  }
  if (Number.isNaN(maxAbs)) maxAbs = Infinity;
  return { maxAbs, range: hi - lo };
}

/** A reproducible NHWC tensor of normals. */
export function randomTensor(shape: number[], seed: number, scale = 1): tf.Tensor4D {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor4d(new SeededNoise(seed).normals(n).map((x) => x * scale), shape as [number, number, number, number]);
}
