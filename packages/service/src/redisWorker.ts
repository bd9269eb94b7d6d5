import { type Job, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { decodePatch, encodePatch } from './patchCodec.js';
import { type JobReturn, type PatchJobData, type UpscaleJobData } from './redisJobQueue.js';
import { redisOptions } from './redisConnection.js';
import { RedisLayout } from './redisLayout.js';
import { type WorkerTuning } from './serviceConfig.js';
import { type JobControl, type ServiceModel } from './serviceModel.js';

export interface RedisWorkerOptions extends WorkerTuning {
  redisUrl: string;
  layout?: RedisLayout;
  /** Each job as it starts and ends (for the command's log). */
  log?: (line: string) => void;
}

/** A running worker: {@link RedisWorker.close} drains it (running jobs finish, nothing new starts). */
export interface RedisWorker {
  close(): Promise<void>;
}

/** How often a running job writes its progress to Redis at most. */
const PROGRESS_INTERVAL_MS = 250;

/**
 * `stablesr worker`: registers the model (its {@link ModelDescriptor}) and runs the model's BullMQ queues — whole
 * jobs and blend parents, and pixel patches — `concurrency` of each at a time. A job's lock is renewed while it runs;
 * if this process dies, the lock lapses after `lockSeconds` and another worker's stalled-job check puts the job back
 * in the queue (`attempts` tries in all). Results are written once (`SET NX`, with the job's TTL) and a retried job
 * that finds its result returns it without running again. Cancelled jobs are aborted at their next sampling step.
 */
export async function startRedisWorker(model: ServiceModel, o: RedisWorkerOptions): Promise<RedisWorker> {
  const L = o.layout ?? new RedisLayout();
  const name = model.descriptor.name;
  const redis = new Redis(redisOptions(o.redisUrl, { maxRetriesPerRequest: null }));
  const sub = new Redis(redisOptions(o.redisUrl, { maxRetriesPerRequest: null }));
  redis.on('error', () => {});
  sub.on('error', () => {});
  await redis.hset(L.models, name, JSON.stringify(model.descriptor));

  const workerOpts = {
    concurrency: o.concurrency,
    lockDuration: o.lockSeconds * 1000,
    stalledInterval: o.stalledCheckSeconds * 1000,
    // A stalled job goes back to the queue up to `attempts` times before it fails for good.
    maxStalledCount: o.attempts,
    autorun: false,
  };
  const conn = () => ({ connection: redisOptions(o.redisUrl, { maxRetriesPerRequest: null }) });

  const control = (job: Job, signal: AbortSignal | undefined, steps: number[]): JobControl => {
    let last = 0;
    return {
      ...(signal && { signal }),
      onStep: (s) => steps.push(s),
      onProgress: (p) => {
        const now = Date.now();
        if (now - last < PROGRESS_INTERVAL_MS && p < 1) return;
        last = now;
        void job.updateProgress(p).catch(() => {});
      },
    };
  };

  const checkCancelled = async (id: string) => {
    if ((await redis.exists(L.cancelled(id))) === 1) throw new UnrecoverableError('cancelled');
  };
  const input = async (id: string): Promise<Buffer> => {
    const b = await redis.getBuffer(L.input(id));
    if (!b) throw new UnrecoverableError(`the uploaded image of job ${id} is gone (expired or deleted)`);
    return b;
  };
  /** Cancellation reaches the model as an abort; the job then fails for good (no retry) as `cancelled`. */
  const asFinal = (e: unknown, signal: AbortSignal | undefined): never => {
    if (signal?.aborted) throw new UnrecoverableError('cancelled');
    throw e;
  };
  const store = async (d: UpscaleJobData, r: { png: Buffer; width: number; height: number }, extra: string[] = []) => {
    // One MULTI: the result appears whole or not at all, and NX keeps the first one if a retried job gets here twice.
    await redis.multi().set(L.result(d.id), r.png, 'EX', d.resultTtlSeconds, 'NX').del(L.input(d.id), ...extra).exec();
  };

  /** BullMQ job id → the public id and the worker running it, for cancel messages. */
  const running = new Map<string, { id: string; worker: Worker }>();
  const tracked = <D extends { id: string }, R>(worker: () => Worker, fn: (job: Job<D>, signal: AbortSignal | undefined) => Promise<R>) => async (job: Job<D>, _token?: string, signal?: AbortSignal): Promise<R> => {
    running.set(job.id!, { id: job.data.id, worker: worker() });
    try {
      return await fn(job, signal);
    } finally {
      running.delete(job.id!);
    }
  };

  const jobsWorker: Worker<UpscaleJobData, JobReturn> = new Worker<UpscaleJobData, JobReturn>(
    L.jobsQueue(name),
    tracked(() => jobsWorker as unknown as Worker, async (job: Job<UpscaleJobData>, signal) => {
      const d = job.data;
      await checkCancelled(d.id);
      if ((await redis.exists(L.result(d.id))) === 1) return { width: d.outputWidth, height: d.outputHeight, stepSeconds: [] };
      const steps: number[] = [];
      const img = await input(d.id);
      const t0 = performance.now();
      o.log?.(`job ${d.id}: ${job.name} started (try ${job.attemptsMade + 1})`);
      if (job.name === 'blend') {
        const keys = Array.from({ length: d.patches }, (_, i) => L.patch(d.id, i));
        const blobs = await redis.mgetBuffer(...keys);
        const patches = blobs.map((b, i) => {
          if (!b) throw new Error(`patch ${i} of job ${d.id} is missing from Redis`);
          return decodePatch(b, keys[i]!);
        });
        const r = await model.blendPatches(img, d.options, patches);
        await store(d, r, keys);
        const children = Object.values(await job.getChildrenValues()) as JobReturn[];
        o.log?.(`job ${d.id}: blended ${d.patches} patches in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
        return { width: r.width, height: r.height, stepSeconds: children.flatMap((c) => c.stepSeconds) };
      }
      let r;
      try {
        r = await model.upscale(img, d.options, control(job, signal, steps));
      } catch (e) {
        asFinal(e, signal);
      }
      await store(d, r!);
      o.log?.(`job ${d.id}: ${d.inputWidth}×${d.inputHeight} → ${r!.width}×${r!.height} in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
      return { width: r!.width, height: r!.height, stepSeconds: steps };
    }),
    { ...workerOpts, ...conn() },
  );

  const patchesWorker: Worker<PatchJobData, JobReturn> = new Worker<PatchJobData, JobReturn>(
    L.patchesQueue(name),
    tracked(() => patchesWorker as unknown as Worker, async (job: Job<PatchJobData>, signal) => {
      const d = job.data;
      await checkCancelled(d.id);
      const steps: number[] = [];
      const img = await input(d.id);
      const t0 = performance.now();
      o.log?.(`job ${d.id}: patch ${d.index} started (try ${job.attemptsMade + 1})`);
      let p;
      try {
        p = await model.upscalePatch(img, d.options, d.index, control(job, signal, steps));
      } catch (e) {
        asFinal(e, signal);
      }
      // Plain SET: a retried patch computes the same values, so overwriting is harmless.
      await redis.set(L.patch(d.id, d.index), encodePatch(p!), 'EX', d.resultTtlSeconds);
      o.log?.(`job ${d.id}: patch ${d.index} in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
      return { stepSeconds: steps };
    }),
    { ...workerOpts, ...conn() },
  );

  for (const w of [jobsWorker, patchesWorker]) {
    w.on('error', (e) => o.log?.(`worker: ${e.message.split('\n')[0]}`));
    w.on('failed', (job, e) => job && o.log?.(`job ${(job.data as { id: string }).id}${job.name === 'patch' ? ` patch ${(job.data as PatchJobData).index}` : ''}: ${e.message.split('\n')[0]} (try ${job.attemptsMade} of ${job.opts.attempts ?? 1})`));
  }

  // Cancel messages name public ids; a worker aborts its own running jobs of that id (the whole job, or its patches).
  await sub.subscribe(L.cancelChannel);
  sub.on('message', (_channel, id: string) => {
    for (const [jobId, r] of running) if (r.id === id) r.worker.cancelJob(jobId, 'cancelled');
  });

  void jobsWorker.run();
  void patchesWorker.run();
  await Promise.all([jobsWorker.waitUntilReady(), patchesWorker.waitUntilReady()]);

  return {
    async close() {
      await Promise.all([jobsWorker.close(), patchesWorker.close()]);
      sub.disconnect();
      redis.disconnect();
    },
  };
}
