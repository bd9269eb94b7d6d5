import * as tf from '@tensorflow/tfjs-core';

/**
 * Visits every tensor reachable from a module object (plain objects, arrays, Maps; functions, primitives and
 * typed arrays are skipped), each object once, so shared sub-objects are safe. With `ownDispose`, an object
 * with its own `dispose()` method is handed to it instead of being walked.
 */
function walkTensors(module: unknown, onTensor: (t: tf.Tensor) => void, ownDispose?: (obj: object, dispose: () => void) => void): void {
  const seen = new Set<unknown>();
  const walk = (v: unknown): void => {
    if (v === null || typeof v !== 'object' || seen.has(v)) return;
    seen.add(v);
    if (v instanceof tf.Tensor) {
      onTensor(v);
      return;
    }
    const own = (v as { dispose?: unknown }).dispose;
    if (ownDispose && typeof own === 'function') {
      ownDispose(v, own as () => void);
      return;
    }
    if (v instanceof Map) {
      for (const x of v.values()) walk(x);
      return;
    }
    if (ArrayBuffer.isView(v)) return;
    for (const x of Array.isArray(v) ? v : Object.values(v)) walk(x);
  };
  walk(module);
}

/**
 * Disposes every tensor reachable from a module object (plain objects, arrays, Maps; functions and
 * primitives are skipped). Modules are plain trees of tensors, so one walker releases any of them.
 * An object with its own `dispose()` method (e.g. a plug-in holding tensors in closures) is disposed by
 * calling it instead of walking it. Each object is visited once, so shared sub-objects are safe.
 */
export function disposeModule(module: unknown): void {
  walkTensors(
    module,
    (t) => {
      if (!t.isDisposed) t.dispose();
    },
    (obj, dispose) => dispose.call(obj),
  );
}

/** Every tensor reachable from a module object (same walk as {@link disposeModule}, without calling `dispose`). */
export function collectTensors(module: unknown): tf.Tensor[] {
  const out: tf.Tensor[] = [];
  walkTensors(module, (t) => out.push(t));
  return out;
}

/**
 * Builds a module so that a failing load leaks nothing: `build` runs inside a tfjs scope; if it throws, every
 * tensor it created is released; if it returns, the tensors reachable from the module are kept.
 * Tensors a module keeps only inside closures are not reachable and would be released: keep them as properties.
 */
export function buildModule<T>(build: () => T): T {
  let module: T | undefined;
  tf.tidy(() => {
    module = build();
    return collectTensors(module);
  });
  return module as T;
}
