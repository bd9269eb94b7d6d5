import * as tf from '@tensorflow/tfjs-core';

/**
 * Disposes every tensor reachable from a module object (weights of convs, norms, nested blocks).
 * Modules are plain trees of objects and arrays, so one walk frees them all.
 */
export function disposeModule(m: unknown): void {
  const seen = new Set<unknown>();
  const walk = (v: unknown): void => {
    if (v === null || typeof v !== 'object' || seen.has(v)) return;
    seen.add(v);
    if (v instanceof tf.Tensor) {
      if (!v.isDisposed) v.dispose();
      return;
    }
    for (const child of Array.isArray(v) ? v : Object.values(v)) walk(child);
  };
  walk(m);
}
