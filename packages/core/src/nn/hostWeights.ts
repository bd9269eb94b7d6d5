import * as tf from '@tensorflow/tfjs-core';
import { moduleChildren, walkModuleObjects } from './disposeModule.js';

// The wasm backend is 32-bit: its heap stops at 4 GiB, and the fp32 StableSR / SD 2.x U-Net alone is 3.5 GiB.
// A module whose weights live on the host (JS memory, outside the heap) uploads one part of itself at a time,
// runs it, and frees it again, so the heap holds one layer's weights instead of the whole network. The
// upload is a memcpy (well under a second for the whole U-Net), small next to a forward on wasm.

interface HostTensor {
  data: Float32Array | Int32Array;
  shape: number[];
  dtype: 'float32' | 'int32';
}

/** Parent object (plain object, array or Map) → its tensor-valued slots whose data lives on the host. */
const hostSlots = new WeakMap<object, Map<PropertyKey, HostTensor>>();
/**
 * Host copies live in SharedArrayBuffers so that a worker thread (the ONNX Runtime engine's) can read them in place
 * instead of receiving a copy of every weight.
 */
function sharedCopy(data: Float32Array | Int32Array): Float32Array | Int32Array {
  const out = data instanceof Float32Array ? new Float32Array(new SharedArrayBuffer(data.byteLength)) : new Int32Array(new SharedArrayBuffer(data.byteLength));
  out.set(data);
  return out;
}

/** Placeholder tensor → its host copy, so engines that read weights themselves (ONNX initializers) find them. */
const hostCopies = new WeakMap<tf.Tensor, HostTensor>();
/** Parents whose slots hold live tensors right now, with the number of {@link withWeights} calls using them. */
const resident = new Map<object, { users: number; live: [PropertyKey, tf.Tensor, tf.Tensor][] }>();

function getSlot(parent: object, key: PropertyKey): unknown {
  return parent instanceof Map ? parent.get(key) : (parent as Record<PropertyKey, unknown>)[key];
}

function setSlot(parent: object, key: PropertyKey, value: tf.Tensor): void {
  if (parent instanceof Map) parent.set(key, value);
  else (parent as Record<PropertyKey, unknown>)[key] = value;
}

/**
 * Moves every tensor of a module tree to host memory. The module keeps its tensor objects, disposed, as
 * placeholders: their shape and dtype can still be read, but computing with one outside {@link withWeights}
 * fails (tfjs refuses disposed tensors) instead of quietly using backend memory. Tensors shared by several
 * parents are read once. Returns the bytes moved.
 */
export function moveWeightsToHost(module: object): number {
  let bytes = 0;
  // A tensor shared by several parents (tied weights) is read once and its slots share the host copy.
  const moved = new Map<tf.Tensor, HostTensor>();
  walkModuleObjects(module, (parent) => {
    for (const [key, value] of moduleChildren(parent)) {
      if (!(value instanceof tf.Tensor)) continue;
      let h = moved.get(value);
      if (!h) {
        if (value.isDisposed) continue;
        if (value.dtype !== 'float32' && value.dtype !== 'int32') throw new Error(`moveWeightsToHost: cannot keep a ${value.dtype} tensor on the host`);
        h = { data: sharedCopy(value.dataSync() as Float32Array | Int32Array), shape: value.shape, dtype: value.dtype };
        moved.set(value, h);
        hostCopies.set(value, h);
        bytes += h.data.byteLength;
        // Released at once, so that loading holds one copy of the network (plus one tensor), not two.
        value.dispose();
      }
      let slots = hostSlots.get(parent);
      if (!slots) hostSlots.set(parent, (slots = new Map()));
      slots.set(key, h);
    }
  });
  return bytes;
}

/**
 * The values of a module's weight tensor, wherever it lives: the host copy of a placeholder left by
 * {@link moveWeightsToHost}, else the tensor's own data (read synchronously; no copy on the cpu backend).
 */
export function weightData(t: tf.Tensor): Float32Array | Int32Array {
  const h = hostCopies.get(t);
  if (h) return h.data;
  if (t.isDisposed) throw new Error(`weightData: tensor [${t.shape}] was disposed and has no host copy`);
  if (t.dtype !== 'float32' && t.dtype !== 'int32') throw new Error(`weightData: cannot read a ${t.dtype} weight`);
  return t.dataSync() as Float32Array | Int32Array;
}

/** Whether any part of `module` keeps its weights on the host ({@link moveWeightsToHost}). */
export function hasHostWeights(module: object): boolean {
  let found = false;
  walkModuleObjects(module, (parent) => {
    found ||= hostSlots.has(parent);
  });
  return found;
}

/** Uploads the host-held weights under `module` that are not up already; returns the parents to {@link release}. */
function acquire(module: object): object[] {
  const acquired: object[] = [];
  walkModuleObjects(module, (parent) => {
    const slots = hostSlots.get(parent);
    if (!slots) return;
    let r = resident.get(parent);
    if (!r) {
      r = { users: 0, live: [] };
      for (const [key, h] of slots) {
        const placeholder = getSlot(parent, key) as tf.Tensor;
        const t = tf.tensor(h.data, h.shape, h.dtype);
        setSlot(parent, key, t);
        r.live.push([key, placeholder, t]);
      }
      resident.set(parent, r);
    }
    r.users++;
    acquired.push(parent);
  });
  return acquired;
}

/** Frees the uploads of `parents` that no other call is using, putting the placeholders back. */
function release(parents: object[]): void {
  for (const parent of parents) {
    const r = resident.get(parent)!;
    if (--r.users > 0) continue;
    resident.delete(parent);
    for (const [key, placeholder, t] of r.live) {
      setSlot(parent, key, placeholder);
      t.dispose();
    }
  }
}

/**
 * Runs `fn` with the host-held weights of `module` uploaded to the backend, and frees them when `fn` returns or
 * throws, unless an enclosing or concurrent call still uses them (uploads are counted per parent object). A
 * module without host weights runs as is. `fn` must not return or keep any of the module's tensors.
 */
export function withWeights<T>(module: object, fn: () => T): T {
  const acquired = acquire(module);
  if (acquired.length === 0) return fn();
  try {
    return fn();
  } finally {
    release(acquired);
  }
}

/** {@link withWeights} for asynchronous work (tiled passes that await between tiles). */
export async function withWeightsAsync<T>(module: object, fn: () => Promise<T>): Promise<T> {
  const acquired = acquire(module);
  try {
    return await fn();
  } finally {
    release(acquired);
  }
}

/**
 * Builds a module straight into host memory: `build` runs on tfjs's `cpu` backend (whose tensors are plain JS
 * arrays, so nothing is copied into the wasm heap), then {@link moveWeightsToHost} takes the tensors over and the
 * previous backend is active again. `build` must be synchronous and must not use tensors of other backends.
 * The backend is switched globally meanwhile, so nothing else may compute while it runs (load before serving).
 */
export async function buildOnHost<T extends object>(build: () => T): Promise<T> {
  const previous = tf.getBackend();
  await import('@tensorflow/tfjs-backend-cpu');
  if (previous !== 'cpu') {
    if (!(await tf.setBackend('cpu'))) throw new Error('buildOnHost: the tfjs cpu backend is not available');
    // Its "install tfjs-node" banner is for people computing on it; this only stores arrays.
    (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  }
  try {
    const module = build();
    moveWeightsToHost(module);
    return module;
  } finally {
    if (previous !== 'cpu') await tf.setBackend(previous);
  }
}

/** Builds `load` on the host ({@link buildOnHost}) when `onHost`, else directly on the active backend. */
export async function buildModuleOn<T extends object>(onHost: boolean, load: () => T): Promise<T> {
  return onHost ? buildOnHost(load) : load();
}

/**
 * Where a large module's weights live: `backend` (with the tensors), `host` (JS memory, uploaded one layer at a
 * time, see {@link withWeights}), or `auto`: `host` on the wasm backend for modules above
 * {@link HOST_WEIGHTS_AUTO_BYTES} (its heap ends at 4 GiB), `backend` otherwise.
 */
export const WEIGHT_PLACEMENTS = ['auto', 'backend', 'host'] as const;
export type WeightPlacement = (typeof WEIGHT_PLACEMENTS)[number];

/** Above this, `auto` keeps a module's weights on the host when the backend is wasm (1 GiB). */
export const HOST_WEIGHTS_AUTO_BYTES = 2 ** 30;

/** Resolves a {@link WeightPlacement} for a module of `bytes` weight bytes on the active backend; throws on unknown values. */
export function weightsOnHost(placement: WeightPlacement | undefined, bytes: number): boolean {
  const p = placement ?? 'auto';
  if (p === 'host') return true;
  if (p === 'backend') return false;
  if (p !== 'auto') throw new Error(`weight placement must be auto, backend or host, got ${JSON.stringify(p)}`);
  return tf.getBackend() === 'wasm' && bytes > HOST_WEIGHTS_AUTO_BYTES;
}

/** Bytes the tensors of a weight view take as float32 once loaded (what {@link weightsOnHost} weighs). */
export function float32Bytes(view: { keys(): string[]; shapeOf(name: string): readonly number[] | undefined }): number {
  let n = 0;
  for (const k of view.keys()) n += 4 * (view.shapeOf(k) ?? []).reduce((a, b) => a * b, 1);
  return n;
}
