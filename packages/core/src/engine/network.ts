import * as tf from '@tensorflow/tfjs-core';
import { withWeightsAsync } from '../nn/hostWeights.js';
import { recordOnnx } from '../ops/onnxOps.js';
import { type Ops } from '../ops/ops.js';
import { tfjsOps } from '../ops/tfjsOps.js';
import { type EngineInfo } from './engine.js';
import { type WireTensor } from './ortProtocol.js';
import { type OrtSession, ortRuntime } from './ortRuntime.js';

/**
 * A whole network's forward, written once against {@link Ops}: the same function is evaluated eagerly by the
 * tfjs engine and recorded into an ONNX graph by the onnxruntime engine. Inputs and outputs are in logical
 * layout (maps NHWC); input `i` has the dtype `dtypes[i]` (default float32).
 */
export interface NetworkDefinition {
  /** For messages and node names ("StableSR U-Net"). */
  readonly name: string;
  readonly dtypes?: readonly ('float32' | 'int32')[];
  /** The module whose weights the forward reads (uploaded around each call on tfjs when `uploadWhole`). */
  readonly module: object;
  /**
   * tfjs engine only: upload the module's host-held weights for the whole call (small networks) instead of
   * leaving it to the forward's per-layer scopes (the U-Net).
   */
  readonly uploadWhole?: boolean;
  forward<T>(ops: Ops<T>, inputs: readonly T[]): readonly T[];
  /**
   * onnxruntime only: graph optimisation level (default `all`). `all` adds ORT's blocked NCHWc convolution layout,
   * which pays off for convolution-bound networks (VAE decode of a 512² image: 16.0 s vs 22.3 s with `extended`),
   * but costs the StableSR U-Net 15 s more session build and 1.8 GiB more peak memory for the same step time
   * (6.8 vs 6.3 s, measured with `npm run bench -- engines`): the U-Nets use `extended`.
   */
  readonly onnxOptimization?: 'all' | 'extended';
}

/** A network ready to run on its engine. Outputs belong to the caller. */
export interface CompiledNetwork {
  readonly name: string;
  readonly engine: EngineInfo;
  run(inputs: readonly tf.Tensor[]): Promise<tf.Tensor[]>;
  /** Seconds spent building engine sessions so far (graph recording + ONNX Runtime session creation). */
  readonly buildSeconds: number;
  /** Frees engine sessions (the module's weights stay with their owner). */
  dispose(): Promise<void>;
}

/**
 * Prepares a network for its engine. On onnxruntime the graph is recorded for the input shapes of the first call
 * and rebuilt when they change (the latest session is kept: inputs of one upscale keep their shape).
 */
export function compileNetwork(def: NetworkDefinition, engine: EngineInfo): CompiledNetwork {
  if (engine.engine === 'tfjs') {
    const runEager = async (inputs: readonly tf.Tensor[]): Promise<tf.Tensor[]> => [...tfjsOps.scope(() => def.forward(tfjsOps, inputs))];
    return {
      name: def.name,
      engine,
      buildSeconds: 0,
      run: (inputs) => (def.uploadWhole ? withWeightsAsync(def.module, () => runEager(inputs)) : runEager(inputs)),
      dispose: async () => {},
    };
  }
  // The session of the latest input shapes. A session replaced while runs still use it (two images of different sizes
  // in flight) is released when its last run finishes, never under one.
  interface Entry {
    readonly key: string;
    readonly session: Promise<OrtSession>;
    users: number;
    replaced: boolean;
  }
  let current: Entry | undefined;
  let buildSeconds = 0;
  const releaseIfIdle = (e: Entry): void => {
    if (e.replaced && e.users === 0) void e.session.then((s) => s.release(), () => {});
  };
  const build = async (inputs: readonly tf.Tensor[]): Promise<OrtSession> => {
    const t0 = performance.now();
    const rec = recordOnnx(def.name);
    const values = inputs.map((t, i) => rec.input(`input${i}`, t.shape, def.dtypes?.[i] ?? 'float32'));
    def.forward(rec.ops, values).forEach((v, i) => rec.output(`output${i}`, v));
    const s = await ortRuntime().createSession(def.name, rec.build(), {
      threads: engine.threads,
      device: engine.provider as 'cpu' | 'cuda',
      disablePrepacking: !engine.prepack,
      optimization: def.onnxOptimization ?? 'all',
    });
    buildSeconds += (performance.now() - t0) / 1000;
    return s;
  };
  /** The session for these input shapes, counted as in use until the returned entry is handed back. */
  const acquire = (inputs: readonly tf.Tensor[]): Entry => {
    const key = inputs.map((t) => `${t.dtype}[${t.shape}]`).join(',');
    if (current?.key !== key) {
      const previous = current;
      const entry: Entry = { key, session: build(inputs), users: 0, replaced: false };
      entry.session.catch(() => {
        if (current === entry) current = undefined;
      });
      current = entry;
      if (previous) {
        previous.replaced = true;
        releaseIfIdle(previous);
      }
    }
    current.users++;
    return current;
  };
  return {
    name: def.name,
    engine,
    get buildSeconds() {
      return buildSeconds;
    },
    run: async (inputs) => {
      const entry = acquire(inputs);
      try {
        const session = await entry.session;
        const feeds: Record<string, WireTensor> = {};
        for (const [i, t] of inputs.entries()) {
          const dtype = def.dtypes?.[i] ?? 'float32';
          // A copy: the buffer is transferred to the worker, and some backends hand out their own storage.
          const data = dtype === 'int32' ? Int32Array.from(await t.data()) : Float32Array.from(await t.data());
          feeds[`input${i}`] = { type: dtype, dims: [...t.shape], data };
        }
        const { outputs } = await session.run(feeds);
        return Object.keys(outputs)
          .sort((a, b) => Number(a.slice(6)) - Number(b.slice(6)))
          .map((k) => tf.tensor(outputs[k]!.data, outputs[k]!.dims, outputs[k]!.type));
      } finally {
        entry.users--;
        releaseIfIdle(entry);
      }
    },
    dispose: async () => {
      const e = current;
      current = undefined;
      if (!e) return;
      e.replaced = true;
      if (e.users === 0) await (await e.session.catch(() => undefined))?.release();
    },
  };
}

/** Compiles, runs once and frees (fixture kinds and one-off calls). */
export async function runNetworkOnce(def: NetworkDefinition, engine: EngineInfo, inputs: readonly tf.Tensor[]): Promise<tf.Tensor[]> {
  const net = compileNetwork(def, engine);
  try {
    return await net.run(inputs);
  } finally {
    await net.dispose();
  }
}
