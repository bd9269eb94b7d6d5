import * as tf from '@tensorflow/tfjs-core';
import { Worker } from 'node:worker_threads';
import { type IRSDESchedule } from '@stablesr/irsde';
import { type IRSDEBatchRows, type IRSDEStepSpec, irsdeBatchLossAndGradients } from './irsdeBatchGradients.js';
import { type GradientReply, type GradientRequest, type WireParameter } from './gradientWorkerProtocol.js';
import { type Parameters } from './tensorWeightView.js';

/** The worker script next to this module (`.ts` when running from source through tsx, `.js` when built). */
const WORKER_URL = new URL(`./gradientWorker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

/** One gradient worker thread and its pending requests. */
class GradientWorker {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: GradientReply & { ok: true }) => void; reject: (e: Error) => void }>();
  private readonly worker: Worker;
  private closing = false;

  constructor() {
    // From source (ava, `npm run dev`, the training scripts) the worker is TypeScript: register tsx's loader first.
    this.worker = WORKER_URL.pathname.endsWith('.ts')
      ? new Worker(`import('tsx/esm/api').then((m) => m.register()).then(() => import(${JSON.stringify(WORKER_URL.href)}))`, { eval: true })
      : new Worker(WORKER_URL);
    this.worker.on('message', (r: GradientReply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (r.ok) p.resolve(r);
      else p.reject(new Error(`gradient worker: ${r.error}`));
    });
    const fail = (e: Error): void => {
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`a gradient worker thread ${this.closing ? 'was stopped' : `exited (code ${code})`}`)));
  }

  request(msg: GradientRequest extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never, transfer: ArrayBuffer[] = []): Promise<GradientReply & { ok: true }> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...msg, id }, transfer);
    });
  }

  terminate(): Promise<number> {
    this.closing = true;
    return this.worker.terminate();
  }
}

/** The rows `[from, to)` of a batch. */
function sliceRows(rows: IRSDEBatchRows, from: number, to: number): IRSDEBatchRows {
  const hq = (rows.hq.length / rows.t.length) | 0;
  const lq = (rows.lq.length / rows.t.length) | 0;
  return { hq: rows.hq.slice(from * hq, to * hq), lq: rows.lq.slice(from * lq, to * lq), noise: rows.noise.slice(from * hq, to * hq), t: rows.t.slice(from, to), patch: rows.patch, scale: rows.scale };
}

/**
 * Data-parallel training steps: the batch's rows are split between this thread and `workers` worker threads (each
 * its own tfjs-wasm instance, so one more core each), every part computes the loss and gradients of its rows with
 * the same code ({@link irsdeBatchLossAndGradients}), and the parts are averaged weighted by their row counts, which
 * is the full batch's mean loss and its gradient (up to float summation order). With `workers` 0 it is the plain
 * single-thread step.
 */
export class DataParallelGradients {
  private readonly pool: GradientWorker[];
  private ready: Promise<unknown>;

  constructor(private readonly spec: IRSDEStepSpec, private readonly schedule: IRSDESchedule, workers: number) {
    if (!Number.isInteger(workers) || workers < 0) throw new Error(`--workers must be a whole number ≥ 0, got ${workers}`);
    this.pool = Array.from({ length: workers }, () => new GradientWorker());
    this.ready = Promise.all(this.pool.map((w) => w.request({ type: 'init', spec })));
    // A run that ends before its first step (a resumed, finished run) closes the pool while the workers start:
    // their init then fails, which only matters to a step that awaits it.
    this.ready.catch(() => undefined);
  }

  /** Threads that compute a step (this one included). */
  get threads(): number {
    return this.pool.length + 1;
  }

  /** The batch's mean loss and its gradient for every parameter; the caller owns the gradients. */
  async step(params: Parameters, rows: IRSDEBatchRows): Promise<{ loss: number; grads: Map<string, tf.Tensor> }> {
    const n = rows.t.length;
    if (this.pool.length === 0) return irsdeBatchLossAndGradients(params, this.spec, rows, this.schedule);
    await this.ready;
    // Row ranges: as even as possible, this thread first; a part with no rows sits the step out.
    const parts = this.threads;
    const bounds = Array.from({ length: parts + 1 }, (_, i) => Math.round((i * n) / parts));
    const wire: WireParameter[] = [];
    for (const [key, p] of params) wire.push({ key, shape: p.shape, data: (await p.data()) as Float32Array });
    const remote = this.pool.map((w, i) => {
      const [from, to] = [bounds[i + 1]!, bounds[i + 2]!];
      if (to <= from) return undefined;
      // Each worker gets its own copy of the parameters (structured clone); the rows are transferred.
      const part = sliceRows(rows, from, to);
      return w.request({ type: 'step', params: wire, rows: part }, [part.hq.buffer as ArrayBuffer, part.lq.buffer as ArrayBuffer, part.noise.buffer as ArrayBuffer]).then((r) => ({ rows: to - from, loss: r.loss!, grads: r.grads! }));
    });
    const localRows = bounds[1]!;
    const local = localRows > 0 ? irsdeBatchLossAndGradients(params, this.spec, sliceRows(rows, 0, localRows), this.schedule) : undefined;
    let results: ({ rows: number; loss: number; grads: WireParameter[] } | undefined)[];
    try {
      results = await Promise.all(remote);
    } catch (e) {
      if (local) tf.dispose([...local.grads.values()]);
      throw e;
    }
    let loss = local ? (local.loss * localRows) / n : 0;
    const sums = new Map<string, Float32Array>();
    for (const [key, p] of params) {
      const acc = new Float32Array(p.size);
      if (local) {
        const g = local.grads.get(key)!.dataSync();
        for (let i = 0; i < acc.length; i++) acc[i] = (g[i]! * localRows) / n;
      }
      sums.set(key, acc);
    }
    if (local) tf.dispose([...local.grads.values()]);
    for (const r of results) {
      if (!r) continue;
      loss += (r.loss * r.rows) / n;
      for (const g of r.grads) {
        const acc = sums.get(g.key)!;
        for (let i = 0; i < acc.length; i++) acc[i]! += (g.data[i]! * r.rows) / n;
      }
    }
    return { loss, grads: new Map([...params].map(([key, p]) => [key, tf.tensor(sums.get(key)!, p.shape)])) };
  }

  /** Stops the worker threads. */
  async close(): Promise<void> {
    await Promise.all(this.pool.map((w) => w.terminate()));
  }
}
