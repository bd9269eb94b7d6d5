import { Worker } from 'node:worker_threads';
import { type OnnxModel } from '../ops/onnxGraph.js';
import { type OrtReply, type OrtRequest, type OrtSessionSettings, type WireTensor } from './ortProtocol.js';

/** The worker script next to this module (`.ts` when running from source through tsx, `.js` when built). */
const WORKER_URL = new URL(`./ortWorker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

/** An ONNX Runtime session living in the runtime's worker thread. */
export interface OrtSession {
  readonly network: string;
  /** Runs the session; feeds and outputs are in the graph's layout. */
  run(feeds: Record<string, WireTensor>): Promise<{ outputs: Record<string, WireTensor>; seconds: number }>;
  release(): Promise<void>;
}

/**
 * One worker thread owning ONNX Runtime sessions. Requests are answered in order; the thread is unref'd while
 * idle, so a process with sessions but no work exits normally.
 */
export class OrtRuntime {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: OrtReply & { ok: true }) => void; reject: (e: Error) => void }>();

  private start(): Worker {
    if (this.worker) return this.worker;
    // From source (ava, `npm run dev`) the worker is TypeScript: register tsx's loader in the thread first.
    const w = WORKER_URL.pathname.endsWith('.ts')
      ? new Worker(`import('tsx/esm/api').then((m) => m.register()).then(() => import(${JSON.stringify(WORKER_URL.href)}))`, { eval: true })
      : new Worker(WORKER_URL);
    w.on('message', (r: OrtReply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (this.pending.size === 0) w.unref();
      if (r.ok) p.resolve(r);
      else p.reject(new Error(r.error));
    });
    const fail = (e: Error): void => {
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
      this.worker = undefined;
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`the ONNX Runtime worker thread exited (code ${code})`)));
    w.unref();
    this.worker = w;
    return w;
  }

  private request(msg: OrtRequest, transfer: ArrayBuffer[] = []): Promise<OrtReply & { ok: true }> {
    const w = this.start();
    return new Promise((resolve, reject) => {
      this.pending.set(msg.id, { resolve, reject });
      w.ref();
      w.postMessage(msg, transfer);
    });
  }

  /**
   * Creates a session from a recorded model. External initializers are shared with the worker, not copied, when
   * they live in SharedArrayBuffers (host-held weights); buffers the recorder made for this model are transferred.
   */
  async createSession(network: string, model: OnnxModel, settings: OrtSessionSettings): Promise<OrtSession> {
    const transfer = model.ownedBuffers.filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
    let reply: OrtReply & { ok: true };
    try {
      reply = await this.request({ kind: 'create', id: this.nextId++, network, bytes: model.bytes, externalData: model.externalData, settings }, transfer);
    } catch (e) {
      throw new Error(`ONNX Runtime rejected the ${network} graph (${model.nodeCount} nodes): ${(e as Error).message}`);
    }
    const session = reply.session!;
    return {
      network,
      run: async (feeds) => {
        const transferFeeds = Object.values(feeds)
          .map((t) => t.data.buffer)
          .filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
        try {
          const r = await this.request({ kind: 'run', id: this.nextId++, session, feeds }, transferFeeds);
          return { outputs: r.outputs!, seconds: r.seconds ?? 0 };
        } catch (e) {
          throw new Error(`${network} on ONNX Runtime: ${(e as Error).message}`);
        }
      },
      release: async () => {
        await this.request({ kind: 'release', id: this.nextId++, session });
      },
    };
  }

  /** Stops the worker (sessions are lost). */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}

let shared: OrtRuntime | undefined;
/** The process-wide runtime (one worker thread for every session). */
export function ortRuntime(): OrtRuntime {
  return (shared ??= new OrtRuntime());
}
