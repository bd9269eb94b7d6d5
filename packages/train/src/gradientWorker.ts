// A training thread of its own (worker_threads): tfjs-wasm runs one thread per instance in Node, so each worker is
// one more core computing the loss and gradients of its rows of the batch (dataParallelGradients.ts).
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { irsdeSchedule, type IRSDESchedule } from '@stablesr/irsde';
import { type IRSDEStepSpec, irsdeBatchLossAndGradients } from './irsdeBatchGradients.js';
import { type GradientReply, type GradientRequest, type WireParameter } from './gradientWorkerProtocol.js';
import { withTrainingBackend } from './trainingBackend.js';

let spec: IRSDEStepSpec | undefined;
let schedule: IRSDESchedule | undefined;

async function handle(m: GradientRequest): Promise<GradientReply> {
  if (m.type === 'init') {
    spec = m.spec;
    schedule = irsdeSchedule(spec.sde);
    return { id: m.id, ok: true };
  }
  if (!spec || !schedule) throw new Error('gradient worker: step before init');
  const params = new Map(m.params.map((p) => [p.key, tf.tensor(p.data, p.shape)]));
  try {
    const { loss, grads } = irsdeBatchLossAndGradients(params, spec, m.rows, schedule);
    const out: WireParameter[] = [];
    for (const [key, g] of grads) {
      out.push({ key, shape: g.shape, data: g.dataSync() as Float32Array });
      g.dispose();
    }
    return { id: m.id, ok: true, loss, grads: out };
  } finally {
    tf.dispose([...params.values()]);
  }
}

// The worker's whole life is one training-backend section; requests are handled one at a time, in order.
await withTrainingBackend(
  () =>
    new Promise<void>((resolve) => {
      let queue = Promise.resolve();
      parentPort!.on('message', (m: GradientRequest) => {
        queue = queue.then(async () => {
          let reply: GradientReply;
          try {
            reply = await handle(m);
          } catch (e) {
            reply = { id: m.id, ok: false, error: (e as Error).message };
          }
          parentPort!.postMessage(reply, reply.ok && reply.grads ? reply.grads.map((g) => g.data.buffer as ArrayBuffer) : []);
        });
      });
      parentPort!.once('close', resolve);
    }),
);
