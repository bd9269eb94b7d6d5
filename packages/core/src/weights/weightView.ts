import * as tf from '@tensorflow/tfjs-core';
import { oihwToHwio, outInToInOut } from './layout.js';
import { type TensorEntry, type TensorSource, WeightFileError } from './tensorSource.js';

/**
 * A typed, prefix-scoped view over a weight file. Models receive a view (`weights.scope('first_stage_model.')`)
 * and read their tensors by the checkpoint's own relative key names; they never parse files.
 *
 * Reads are strict: a missing key or a shape different from the expected one is a {@link WeightFileError}
 * naming the file and the full key. Every key read is recorded, so after building a module
 * {@link WeightView.unusedKeys} lists the tensors the module did not expect.
 */
export interface WeightView {
  /** The absolute key prefix of this view ("" for the root). */
  readonly prefix: string;
  /** Origin of the underlying file(s), for messages. */
  readonly origin: string;
  /** A view of the keys under `prefix` (relative to this view). */
  scope(prefix: string): WeightView;
  /** Whether `name` (relative) exists. */
  has(name: string): boolean;
  /** Relative names of all keys under this view. */
  keys(): string[];
  /** Stored shape of `name` (PyTorch layout), or undefined. */
  shapeOf(name: string): readonly number[] | undefined;
  /** Tensor in its stored (PyTorch) layout, as float32 (floating dtypes) or int32 (integer dtypes). */
  get(name: string, expectedShape?: readonly number[]): tf.Tensor;
  /** Raw values in stored layout, without creating a tfjs tensor. */
  data(name: string, expectedShape?: readonly number[]): Float32Array | Int32Array;
  /** A 2-D convolution weight stored OIHW, returned HWIO. `expectedShape` is the stored OIHW shape. */
  conv2d(name: string, expectedShape?: readonly number[]): tf.Tensor4D;
  /**
   * A 1×1 conv (`[out, in, 1, 1]`), 1-D conv (`[out, in, 1]`) or linear (`[out, in]`) weight, returned
   * `[in, out]` for matMul. `expectedShape` is `[out, in]`; trailing 1-sized dims in the file are accepted.
   */
  linear(name: string, expectedShape?: readonly [number, number]): tf.Tensor2D;
  /** Keys under this view that nothing has read yet (relative names). */
  unusedKeys(): string[];
  /** Throws naming every key under this view that no module read (for strict loading). */
  assertAllUsed(what: string): void;
}

/** The root of a set of weights: a view plus ownership of the file handles. */
export interface Weights extends WeightView {
  readonly source: TensorSource;
  close(): void;
}

export function weightsFromSource(source: TensorSource): Weights {
  const used = new Set<string>();
  const root = makeView(source, '', used) as Weights;
  return Object.assign(root, { source, close: () => source.close() });
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function makeView(source: TensorSource, prefix: string, used: Set<string>): WeightView {
  const all = source.entries();
  const entry = (name: string, expected?: readonly number[]): TensorEntry => {
    const full = prefix + name;
    const e = all.get(full);
    if (!e) {
      const near = nearestKeys(all, full);
      throw new WeightFileError(source.origin, `missing key${near.length ? ` (similar keys present: ${near.join(', ')})` : ''}`, full);
    }
    if (expected && !sameShape(e.shape, expected)) {
      throw new WeightFileError(source.origin, `shape ${fmt(e.shape)} does not match the expected ${fmt(expected)} (the config does not fit this checkpoint)`, full);
    }
    used.add(full);
    return e;
  };
  const floatData = (name: string, expected?: readonly number[]): Float32Array => {
    const d = entry(name, expected).read();
    if (!(d instanceof Float32Array)) throw new WeightFileError(source.origin, 'expected a floating-point tensor, found an integer one', prefix + name);
    return d;
  };
  const keysUnder = (): string[] => [...all.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
  const view: WeightView = {
    prefix,
    origin: source.origin,
    scope: (p) => makeView(source, prefix + p, used),
    has: (name) => all.has(prefix + name),
    keys: keysUnder,
    shapeOf: (name) => all.get(prefix + name)?.shape,
    data: (name, expected) => entry(name, expected).read(),
    get: (name, expected) => {
      const e = entry(name, expected);
      const d = e.read();
      return d instanceof Float32Array ? tf.tensor(d, [...e.shape], 'float32') : tf.tensor(d, [...e.shape], 'int32');
    },
    conv2d: (name, expected) => {
      const e = entry(name, expected);
      if (e.shape.length !== 4) throw new WeightFileError(source.origin, `expected a 4-D conv weight, found shape ${fmt(e.shape)}`, prefix + name);
      return oihwToHwio(floatData(name), e.shape);
    },
    linear: (name, expected) => {
      const e = entry(name);
      const [o, i, ...rest] = e.shape;
      if (o === undefined || i === undefined || rest.some((d) => d !== 1)) {
        throw new WeightFileError(source.origin, `expected a linear or 1×1 weight [out, in(, 1, 1)], found shape ${fmt(e.shape)}`, prefix + name);
      }
      if (expected && !sameShape([o, i], expected)) {
        throw new WeightFileError(source.origin, `shape ${fmt(e.shape)} does not match the expected ${fmt(expected)} (the config does not fit this checkpoint)`, prefix + name);
      }
      return outInToInOut(floatData(name), [o, i]);
    },
    unusedKeys: () => keysUnder().filter((k) => !used.has(prefix + k)),
    assertAllUsed: (what) => {
      const unused = view.unusedKeys();
      if (unused.length) {
        const shown = unused.slice(0, 8).map((k) => prefix + k).join(', ');
        throw new WeightFileError(source.origin, `${unused.length} unexpected key(s) for ${what}: ${shown}${unused.length > 8 ? ', …' : ''} (the config does not fit this checkpoint)`);
      }
    },
  };
  return view;
}

function fmt(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function nearestKeys(all: ReadonlyMap<string, TensorEntry>, key: string): string[] {
  const parent = key.slice(0, key.lastIndexOf('.') + 1);
  if (!parent) return [];
  return [...all.keys()].filter((k) => k.startsWith(parent)).slice(0, 4);
}
