import * as tf from '@tensorflow/tfjs-core';
import { type TensorEntry, type TensorSource, type Xoshiro128 } from '@stablesr/core';

/**
 * PyTorch's default initialisation for parameters given by key and stored shape: conv and linear weights
 * `kaiming_uniform_(a=√5)`, i.e. U(±1/√fan_in), their biases U(±1/√fan_in) of the weight's fan-in, and norm gains
 * (1-D weights, channel `LayerNorm` `.g`) ones. Deterministic for the generator's state; keys are visited in sorted order.
 */
export function initParameters(shapes: ReadonlyMap<string, readonly number[]>, rng: Xoshiro128): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  for (const key of [...shapes.keys()].sort()) {
    const shape = shapes.get(key)!;
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const isBias = key.endsWith('.bias');
    if (!isBias && shape.length === 1) data.fill(1);
    else if (key.endsWith('.g')) data.fill(1); // the channel LayerNorm's gain, [1, C, 1, 1]
    else {
      const ref = isBias ? shapes.get(key.replace(/bias$/, 'weight')) : shape;
      const fanIn = ref && ref.length >= 2 ? ref.slice(1).reduce((a, b) => a * b, 1) : n;
      const bound = 1 / Math.sqrt(fanIn);
      for (let i = 0; i < n; i++) data[i] = (2 * rng.nextOpen() - 1) * bound;
    }
    out.set(key, tf.tensor(data, [...shape]));
  }
  return out;
}

/** Host copies of parameters (PyTorch layout) as a {@link TensorSource}, so an engine can build a network from them. */
export async function parametersSource(params: ReadonlyMap<string, tf.Tensor>, origin: string): Promise<TensorSource> {
  const entries = new Map<string, TensorEntry>();
  for (const [name, t] of params) {
    const data = (await t.data()) as Float32Array;
    entries.set(name, { name, dtype: 'F32', shape: [...t.shape], read: () => data.slice(), readRaw: () => new Uint8Array(data.buffer.slice(0)) });
  }
  return { origin, metadata: {}, entries: () => entries, close: () => {} };
}
