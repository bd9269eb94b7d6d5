import * as tf from '@tensorflow/tfjs-core';
import { type WeightView } from '@stablesr/core';

/** A module's parameters under their checkpoint keys (relative to a view), each in its stored PyTorch layout. */
export type Parameters = ReadonlyMap<string, tf.Tensor>;

/**
 * A {@link WeightView} that serves the given tensors (PyTorch layout) instead of a file. Its layout changes
 * (OIHW → HWIO for convs, [out, in] → [in, out] for linears) are tfjs ops on those very tensors, so a module loaded
 * from it inside a gradient computation is differentiable with respect to the parameters in checkpoint layout:
 * `tf.grads` then returns gradients shaped like the checkpoint's tensors. `get` hands out the tensor itself, so the
 * loaded module must not be disposed with `disposeModule` (that would dispose the parameters); the intermediate
 * layout tensors are released by the enclosing `tf.tidy` / gradient scope. `data` refuses: host values would cut
 * the gradient silently.
 */
export function tensorWeightView(params: Parameters, origin = 'parameters', prefix = ''): WeightView {
  const used = new Set<string>();
  const make = (pre: string): WeightView => {
    const entry = (name: string, expected?: readonly number[]): tf.Tensor => {
      const t = params.get(pre + name);
      if (!t) throw new Error(`${origin} [${pre}${name}]: missing parameter`);
      if (expected && (expected.length !== t.shape.length || expected.some((d, i) => d !== t.shape[i]))) {
        throw new Error(`${origin} [${pre}${name}]: shape [${t.shape}] does not match the expected [${expected}]`);
      }
      used.add(pre + name);
      return t;
    };
    const keysUnder = (): string[] => [...params.keys()].filter((k) => k.startsWith(pre)).map((k) => k.slice(pre.length));
    const view: WeightView = {
      prefix: prefix + pre,
      origin,
      scope: (p) => make(pre + p),
      has: (name) => params.has(pre + name),
      keys: keysUnder,
      shapeOf: (name) => params.get(pre + name)?.shape,
      get: (name, expected) => entry(name, expected),
      data: (name) => {
        throw new Error(`${origin} [${pre}${name}]: host data of a trainable parameter was requested; the gradient cannot follow it`);
      },
      conv2d: (name, expected) => {
        const t = entry(name, expected);
        if (t.rank !== 4) throw new Error(`${origin} [${pre}${name}]: expected a 4-D conv weight, found shape [${t.shape}]`);
        return tf.transpose(t as tf.Tensor4D, [2, 3, 1, 0]);
      },
      linear: (name, expected) => {
        const t = entry(name);
        const [o, i, ...rest] = t.shape;
        if (o === undefined || i === undefined || rest.some((d) => d !== 1)) throw new Error(`${origin} [${pre}${name}]: expected a linear or 1×1 weight, found shape [${t.shape}]`);
        if (expected && (expected[0] !== o || expected[1] !== i)) throw new Error(`${origin} [${pre}${name}]: shape [${t.shape}] does not match the expected [${expected}]`);
        return tf.transpose(tf.reshape(t, [o, i]) as tf.Tensor2D);
      },
      unusedKeys: () => keysUnder().filter((k) => !used.has(pre + k)),
      assertAllUsed: (what) => {
        const unused = view.unusedKeys();
        if (unused.length) throw new Error(`${origin}: ${unused.length} unexpected parameter(s) for ${what}: ${unused.slice(0, 8).join(', ')}`);
      },
    };
    return view;
  };
  return make('');
}

/** Reads every tensor under `view` into {@link Parameters} (keys relative to the view, PyTorch layout); the caller owns them. */
export function readParameters(view: WeightView): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  try {
    for (const k of view.keys()) out.set(k, view.get(k));
  } catch (e) {
    tf.dispose([...out.values()]);
    throw e;
  }
  return out;
}

/** Disposes every tensor of a parameter map. */
export function disposeParameters(params: Parameters): void {
  tf.dispose([...params.values()]);
}
