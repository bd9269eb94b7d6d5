import * as tf from '@tensorflow/tfjs-core';

/** The named children of a module object: a Map's entries, an array's or plain object's own properties. */
export function moduleChildren(obj: object): Iterable<[PropertyKey, unknown]> {
  return obj instanceof Map ? obj.entries() : Object.entries(obj);
}

/**
 * Visits every object reachable from a module (plain objects, arrays, Maps; tensors, typed arrays, functions and
 * primitives are leaves), each once, so shared sub-objects are safe. When `visit` returns false the object's
 * children are not walked.
 */
export function walkModuleObjects(module: unknown, visit: (obj: object) => boolean | void): void {
  const seen = new Set<unknown>();
  const walk = (v: unknown): void => {
    if (v === null || typeof v !== 'object' || seen.has(v) || v instanceof tf.Tensor || ArrayBuffer.isView(v)) return;
    seen.add(v);
    if (visit(v) === false) return;
    for (const [, x] of moduleChildren(v)) walk(x);
  };
  walk(module);
}

/**
 * Visits every tensor reachable from a module object, each once. With `ownDispose`, an object with its own
 * `dispose()` method is handed to it instead of being walked.
 */
function walkTensors(module: unknown, onTensor: (t: tf.Tensor) => void, ownDispose?: (obj: object, dispose: () => void) => void): void {
  if (module instanceof tf.Tensor) {
    onTensor(module);
    return;
  }
  const seen = new Set<tf.Tensor>();
  walkModuleObjects(module, (obj) => {
    const own = (obj as { dispose?: unknown }).dispose;
    if (ownDispose && typeof own === 'function') {
      ownDispose(obj, own as () => void);
      return false;
    }
    for (const [, x] of moduleChildren(obj)) {
      if (x instanceof tf.Tensor && !seen.has(x)) {
        seen.add(x);
        onTensor(x);
      }
    }
    return true;
  });
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
