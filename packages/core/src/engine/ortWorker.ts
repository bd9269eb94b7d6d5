// The thread that owns every ONNX Runtime session. onnxruntime-node runs `session.run` on the calling
// thread, so running it here keeps the embedding process's event loop free during long inference.
import { parentPort } from 'node:worker_threads';
import type * as Ort from 'onnxruntime-node';
import { hwioToOihw } from '../weights/filterLayout.js';
import { type OrtReply, type OrtRequest, type WireTensor } from './ortProtocol.js';

const port = parentPort;
if (!port) throw new Error('ortWorker must run in a worker thread');

let ort: typeof Ort | undefined;
const sessions = new Map<number, Ort.InferenceSession>();
let nextSession = 1;

async function handle(msg: OrtRequest): Promise<{ reply: OrtReply; transfer: ArrayBuffer[] }> {
  ort ??= ((await import('onnxruntime-node')) as unknown as { default?: typeof Ort }).default ?? ((await import('onnxruntime-node')) as typeof Ort);
  switch (msg.kind) {
    case 'create': {
      const s = msg.settings;
      // Conv filters arrive in the modules' layout (shared, not copied) and are converted here, off the caller's thread.
      const externalData = msg.externalData.map(({ path, data, hwioToOihw: hwio }) => {
        if (!hwio) return { path, data };
        const oihw = hwioToOihw(new Float32Array(data.buffer, data.byteOffset, data.byteLength / 4), hwio);
        return { path, data: new Uint8Array(oihw.buffer) };
      });
      const session = await ort.InferenceSession.create(msg.bytes, {
        executionProviders: [s.device],
        intraOpNumThreads: s.threads,
        interOpNumThreads: 1,
        graphOptimizationLevel: s.optimization,
        enableCpuMemArena: s.memoryArena ?? true,
        // Failures come back as errors naming the network; ORT's own stderr log would only repeat them.
        logSeverityLevel: 4,
        externalData,
        extra: { session: { disable_prepacking: s.disablePrepacking ? '1' : '0' } },
        // STABLESR_ORT_PROFILE=prefix writes ONNX Runtime's per-node timing JSON (for benchmarks and performance work).
        ...(process.env.STABLESR_ORT_PROFILE ? { enableProfiling: true, profileFilePrefix: `${process.env.STABLESR_ORT_PROFILE}-${msg.network.replace(/\W+/g, '_')}` } : {}),
      });
      const id = nextSession++;
      sessions.set(id, session);
      return { reply: { id: msg.id, ok: true, session: id }, transfer: [] };
    }
    case 'run': {
      const session = sessions.get(msg.session);
      if (!session) throw new Error(`no session ${msg.session}`);
      const feeds: Record<string, Ort.Tensor> = {};
      for (const [name, t] of Object.entries(msg.feeds)) feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
      const t0 = performance.now();
      const results = await session.run(feeds);
      const seconds = (performance.now() - t0) / 1000;
      const outputs: Record<string, WireTensor> = {};
      const transfer: ArrayBuffer[] = [];
      for (const [name, t] of Object.entries(results)) {
        const data = t.data as Float32Array | Int32Array;
        outputs[name] = { type: t.type as WireTensor['type'], dims: [...t.dims], data };
        if (data.buffer instanceof ArrayBuffer) transfer.push(data.buffer);
      }
      return { reply: { id: msg.id, ok: true, outputs, seconds }, transfer };
    }
    case 'release': {
      await sessions.get(msg.session)?.release();
      sessions.delete(msg.session);
      return { reply: { id: msg.id, ok: true }, transfer: [] };
    }
  }
}

// One request at a time, in order: sessions share the machine's cores, and interleaving runs would only slow each.
let queue = Promise.resolve();
port.on('message', (msg: OrtRequest) => {
  queue = queue.then(async () => {
    try {
      const { reply, transfer } = await handle(msg);
      port.postMessage(reply, transfer);
    } catch (e) {
      port.postMessage({ id: msg.id, ok: false, error: e instanceof Error ? e.message : String(e) } satisfies OrtReply);
    }
  });
});
