import * as tf from '@tensorflow/tfjs-core';
import { type TensorEntry, type TensorSource } from './tensorSource.js';
import { type WeightView } from './weightView.js';

/**
 * Synthetic weights for benchmarks and tests of real-size models without their files: the key/shape list is
 * read off the model's own loader ({@link recordWeightRequests}), and {@link syntheticSource} turns it into a
 * {@link TensorSource} whose tensors are generated on demand — nothing is stored, so a 3.6 GB U-Net costs no
 * host memory until a module materialises it.
 */

export interface SyntheticSourceOptions {
  /** Seed of the generator; the same seed, key and shape always give the same values. Default 0. */
  seed?: number;
  /** Name used in error messages. Default `synthetic(<seed>)`. */
  origin?: string;
}

/** FNV-1a over the key, mixed with the seed: an independent stream per tensor. */
function keySeed(key: string, seed: number): number {
  let h = (0x811c9dc5 ^ Math.imul(seed | 0, 0x9e3779b1)) >>> 0;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * Fills `out` with uniform values of unit variance (in ±√3) from mulberry32: fast enough for a billion values
 * (Box–Muller normals would dominate the load time of a real-size model), and the scale is all benchmarks need.
 */
function fillUnitUniform(out: Float32Array, state: number): void {
  let s = state >>> 0;
  const k = Math.sqrt(3) / 2 ** 31;
  for (let i = 0; i < out.length; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) - 2 ** 31) * k;
  }
}

/**
 * A weight file that does not exist: the given keys with the given (stored, PyTorch-layout) shapes, F32,
 * values drawn like the fixtures' random models — biases 0.1·u, other 1-D tensors 1 + 0.1·u, everything else
 * u/√fan_in, with u of zero mean and unit variance — so activations stay in a realistic range through deep
 * networks. Values are generated on every `read()` and deterministic in (seed, key, shape).
 */
export function syntheticSource(shapes: Iterable<readonly [string, readonly number[]]>, opts: SyntheticSourceOptions = {}): TensorSource {
  const seed = opts.seed ?? 0;
  const origin = opts.origin ?? `synthetic(${seed})`;
  const entries = new Map<string, TensorEntry>();
  for (const [name, shape] of shapes) {
    if (!shape.every((d) => Number.isInteger(d) && d >= 0)) throw new Error(`${origin}: invalid shape [${shape.join(', ')}] for ${name}`);
    const dims = [...shape];
    const read = (): Float32Array => {
      const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
      fillUnitUniform(data, keySeed(name, seed));
      if (name.endsWith('bias')) for (let i = 0; i < data.length; i++) data[i] = 0.1 * data[i]!;
      else if (dims.length === 1) for (let i = 0; i < data.length; i++) data[i] = 1 + 0.1 * data[i]!;
      else {
        const s = 1 / Math.sqrt(Math.max(1, dims.slice(1).reduce((a, b) => a * b, 1)));
        for (let i = 0; i < data.length; i++) data[i] = s * data[i]!;
      }
      return data;
    };
    entries.set(name, { name, dtype: 'F32', shape: dims, read, readRaw: () => new Uint8Array(read().buffer) });
  }
  return { origin, metadata: {}, entries: () => entries, close: () => {} };
}

/** A view that answers every request with zeros of the asked shape and notes (full key → stored shape). */
function recordingView(record: Map<string, number[]>, prefix: string): WeightView {
  const note = (name: string, shape: readonly number[] | undefined): number[] => {
    if (!shape) throw new Error(`recording weight view: ${prefix + name} was requested without an expected shape, so its shape cannot be recorded`);
    record.set(prefix + name, [...shape]);
    return [...shape];
  };
  const view: WeightView = {
    prefix,
    origin: 'recording',
    scope: (p) => recordingView(record, prefix + p),
    has: () => true,
    keys: () => [],
    shapeOf: () => undefined,
    get: (name, shape) => tf.zeros(note(name, shape)),
    data: (name, shape) => new Float32Array(note(name, shape).reduce((a, b) => a * b, 1)),
    conv2d: (name, shape) => {
      const [o, i, h, w] = note(name, shape) as [number, number, number, number];
      return tf.zeros([h, w, i, o]);
    },
    linear: (name, shape) => {
      const [o, i] = note(name, shape) as [number, number];
      return tf.zeros([i, o]);
    },
    unusedKeys: () => [],
    assertAllUsed: () => {},
  };
  return view;
}

/**
 * The key → stored shape list a loader reads: `load` runs once against a view that hands out zeros (on the
 * active backend — use the cpu backend for models larger than the wasm heap) and the module is disposed.
 * Loaders that probe the file (`keys()`, `shapeOf`) see an empty file; call the inner loader for those.
 * `prefix` is prepended to every recorded key (e.g. `model.diffusion_model.`).
 */
export function recordWeightRequests<M>(load: (view: WeightView) => M, dispose: (m: M) => void, prefix = ''): Map<string, number[]> {
  const record = new Map<string, number[]>();
  dispose(load(recordingView(record, prefix)));
  return record;
}
