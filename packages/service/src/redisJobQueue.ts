import { FlowProducer, type Job, Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { type JobQueue, type QueueObserver } from './jobQueue.js';
import { newJobId } from './jobId.js';
import { JOB_STATES, type JobState, type JobStatus, etaSeconds } from './jobStatus.js';
import { type ModelDescriptor } from './modelDescriptor.js';
import { redisOptions } from './redisConnection.js';
import { RedisLayout } from './redisLayout.js';
import { type UpscaleRequest } from './upscaleRequest.js';

/** A top-level job's data: the request, its id, and how long its result is kept. */
export interface UpscaleJobData extends UpscaleRequest {
  id: string;
  resultTtlSeconds: number;
}

/** A patch (child) job's data. */
export interface PatchJobData {
  id: string;
  model: string;
  options: UpscaleRequest['options'];
  index: number;
  resultTtlSeconds: number;
}

/** What a finished job returns (BullMQ keeps it as the job's return value): the output size and its step times. */
export interface JobReturn {
  width?: number;
  height?: number;
  stepSeconds: number[];
}

export interface RedisJobQueueOptions {
  redisUrl: string;
  resultTtlSeconds: number;
  /** Tries per job or patch, with exponential backoff (a killed worker's stalled job counts as one). */
  attempts: number;
  layout?: RedisLayout;
  observer?: QueueObserver;
}

/** Uploaded images wait at most this long for a worker (they are deleted as soon as their job finishes). */
const INPUT_TTL_SECONDS = 7 * 24 * 3600;

/**
 * The queue of `stablesr serve --redis URL`: jobs go to BullMQ queues on Redis, one pair per model (whole jobs and
 * blend parents; pixel patches), and `stablesr worker` processes run them. An image of several StableSR pixel
 * patches becomes a BullMQ flow (FlowProducer): one child job per patch, the parent blends them. Status comes from
 * BullMQ's job states and progress; cancellation from a marker key plus a pub/sub message on which the workers
 * abort the job's running patches (`Worker.cancelJob`). Everything accepted is in Redis before the 202, so it
 * survives a restart of this process, and of Redis with persistence on.
 */
export class RedisJobQueue implements JobQueue {
  private readonly redis: Redis;
  private readonly layout: RedisLayout;
  private readonly queues = new Map<string, { jobs: Queue; patches: Queue; events: QueueEvents }>();
  private readonly flows: FlowProducer;
  private modelCache: { at: number; models: ModelDescriptor[] } | undefined;

  constructor(private readonly o: RedisJobQueueOptions) {
    this.layout = o.layout ?? new RedisLayout();
    // Few retries: a request while Redis is down fails within seconds (503) instead of hanging.
    this.redis = new Redis(redisOptions(o.redisUrl, { maxRetriesPerRequest: 1 }));
    this.redis.on('error', () => {});
    this.flows = new FlowProducer({ connection: this.connection() });
    this.flows.on('error', () => {});
  }

  private connection() {
    return redisOptions(this.o.redisUrl, { maxRetriesPerRequest: 1 });
  }

  private queuesOf(model: string) {
    let q = this.queues.get(model);
    if (!q) {
      const jobs = new Queue(this.layout.jobsQueue(model), { connection: this.connection() });
      const patches = new Queue(this.layout.patchesQueue(model), { connection: this.connection() });
      jobs.on('error', () => {});
      patches.on('error', () => {});
      const events = new QueueEvents(this.layout.jobsQueue(model), { connection: redisOptions(this.o.redisUrl, { maxRetriesPerRequest: null }) });
      events.on('error', () => {});
      events.on('completed', ({ jobId, returnvalue }) => void this.observeFinished(jobs, jobId, 'done', returnvalue));
      events.on('failed', ({ jobId }) => void this.observeFinished(jobs, jobId, 'failed'));
      q = { jobs, patches, events };
      this.queues.set(model, q);
    }
    return q;
  }

  private async observeFinished(queue: Queue, jobId: string, state: JobState, returnvalue?: unknown): Promise<void> {
    const obs = this.o.observer;
    if (!obs) return;
    try {
      const job = await queue.getJob(jobId);
      const cancelled = state === 'failed' && (await this.redis.exists(this.layout.cancelled(jobId))) === 1;
      if (job?.finishedOn) obs.finished(cancelled ? 'cancelled' : state, (job.finishedOn - job.timestamp) / 1000);
      const r = (typeof returnvalue === 'string' ? JSON.parse(returnvalue) : returnvalue) as JobReturn | undefined;
      for (const s of r?.stepSeconds ?? []) obs.step(s);
    } catch {
      // Metrics are best effort: a lost event must not break the API.
    }
  }

  observe(observer: QueueObserver): void {
    this.o.observer = observer;
  }

  async models(): Promise<ModelDescriptor[]> {
    const now = Date.now();
    if (this.modelCache && now - this.modelCache.at < 2000) return this.modelCache.models;
    const all = await this.redis.hgetall(this.layout.models);
    const models = Object.values(all).map((v) => JSON.parse(v) as ModelDescriptor).sort((a, b) => a.name.localeCompare(b.name));
    for (const m of models) this.queuesOf(m.name);
    this.modelCache = { at: now, models };
    return models;
  }

  async queued(): Promise<number> {
    let n = 0;
    for (const m of await this.models()) {
      const c = await this.queuesOf(m.name).jobs.getJobCounts('waiting', 'prioritized', 'delayed');
      n += (c.waiting ?? 0) + (c.prioritized ?? 0) + (c.delayed ?? 0);
    }
    return n;
  }

  async submit(input: Buffer, request: UpscaleRequest): Promise<string> {
    const id = newJobId();
    const L = this.layout;
    const ttl = this.o.resultTtlSeconds;
    const common = { attempts: this.o.attempts, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: { age: ttl }, removeOnFail: { age: ttl } };
    await this.redis.multi().set(L.input(id), input, 'EX', INPUT_TTL_SECONDS).set(L.jobModel(id), request.model, 'EX', INPUT_TTL_SECONDS + ttl).exec();
    const data: UpscaleJobData = { ...request, id, resultTtlSeconds: ttl };
    const q = this.queuesOf(request.model);
    try {
      if (request.patches > 1) {
        await this.flows.add({
          name: 'blend',
          queueName: q.jobs.name,
          data,
          opts: { jobId: id, ...common },
          children: Array.from({ length: request.patches }, (_, index) => ({
            name: 'patch',
            queueName: q.patches.name,
            data: { id, model: request.model, options: request.options, index, resultTtlSeconds: ttl } satisfies PatchJobData,
            // A patch that fails for good (or is cancelled) fails the whole job.
            opts: { jobId: L.patchJobId(id, index), ...common, failParentOnFailure: true },
          })),
        });
      } else {
        await q.jobs.add('upscale', data, { jobId: id, ...common });
      }
    } catch (e) {
      await this.redis.del(L.input(id), L.jobModel(id)).catch(() => {});
      throw e;
    }
    return id;
  }

  private async find(id: string): Promise<{ job: Job<UpscaleJobData> | undefined; model: string } | undefined> {
    const model = await this.redis.get(this.layout.jobModel(id));
    if (model === null) return undefined;
    return { job: (await this.queuesOf(model).jobs.getJob(id)) as Job<UpscaleJobData> | undefined, model };
  }

  async status(id: string): Promise<JobStatus | undefined> {
    const found = await this.find(id);
    if (!found) return undefined;
    const cancelled = (await this.redis.exists(this.layout.cancelled(id))) === 1;
    const job = found.job;
    if (!job) return cancelled ? { id, status: 'cancelled', progress: 0, patches: 0 } : undefined;
    const d = job.data;
    const base = { id, outputSize: { width: d.outputWidth, height: d.outputHeight }, patches: d.patches };
    const state = await job.getState();
    if (state === 'completed') return { ...base, status: 'done', progress: 1 };
    if (cancelled) return { ...base, status: 'cancelled', progress: 0 };
    if (state === 'failed') return { ...base, status: 'failed', progress: 0, error: job.failedReason.split('\n')[0]! };
    if (d.patches > 1) return this.flowStatus(job, found.model, base, state);
    const progress = typeof job.progress === 'number' ? job.progress : 0;
    if (state === 'active') {
      const eta = job.processedOn ? etaSeconds(progress, (Date.now() - job.processedOn) / 1000) : undefined;
      return { ...base, status: 'running', progress, ...(eta !== undefined && { etaSeconds: eta }) };
    }
    return { ...base, status: 'queued', progress: 0 };
  }

  /** A split job: progress is the mean over its patches (a finished patch counts 1); running once any patch started. */
  private async flowStatus(job: Job<UpscaleJobData>, model: string, base: Omit<JobStatus, 'status' | 'progress'>, state: string): Promise<JobStatus> {
    const { patches } = this.queuesOf(model);
    const n = job.data.patches;
    const children = await Promise.all(Array.from({ length: n }, (_, i) => patches.getJob(this.layout.patchJobId(job.data.id, i))));
    let sum = 0;
    let started = state === 'active';
    let first = Infinity;
    for (const c of children) {
      if (!c || c.finishedOn) sum += 1;
      else if (typeof c.progress === 'number') sum += c.progress;
      if (!c || c.processedOn) started = true;
      if (c?.processedOn) first = Math.min(first, c.processedOn);
    }
    // The blend (parent active) is the last few percent.
    const progress = state === 'active' ? 0.99 : Math.min(0.98, sum / n);
    if (!started) return { ...base, status: 'queued', progress: 0 };
    const eta = Number.isFinite(first) ? etaSeconds(progress, (Date.now() - first) / 1000) : undefined;
    return { ...base, status: 'running', progress, ...(eta !== undefined && { etaSeconds: eta }) };
  }

  async result(id: string): Promise<Buffer | undefined> {
    return (await this.redis.getBuffer(this.layout.result(id))) ?? undefined;
  }

  async cancel(id: string): Promise<JobStatus | undefined> {
    const st = await this.status(id);
    if (!st || st.status === 'done' || st.status === 'failed' || st.status === 'cancelled') return st;
    const L = this.layout;
    await this.redis.set(L.cancelled(id), '1', 'EX', this.o.resultTtlSeconds + INPUT_TTL_SECONDS);
    await this.redis.publish(L.cancelChannel, id);
    const found = await this.find(id);
    try {
      // A waiting job (or a flow none of whose patches runs) goes at once, with its children.
      await found?.job?.remove();
      await this.redis.del(L.input(id));
    } catch {
      // Locked by a worker: it aborts at the next step on the cancel message, and fails the job as cancelled.
    }
    return { ...st, status: 'cancelled' };
  }

  async counts(): Promise<Record<JobState, number>> {
    const c = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
    for (const m of await this.models()) {
      const k = await this.queuesOf(m.name).jobs.getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'waiting-children', 'completed', 'failed');
      c.queued += (k.waiting ?? 0) + (k.prioritized ?? 0) + (k.delayed ?? 0);
      c.running += (k.active ?? 0) + (k['waiting-children'] ?? 0);
      c.done += k.completed ?? 0;
      c.failed += k.failed ?? 0;
    }
    return c;
  }

  async close(): Promise<void> {
    for (const q of this.queues.values()) await Promise.allSettled([q.jobs.close(), q.patches.close(), q.events.close()]);
    await this.flows.close().catch(() => {});
    this.redis.disconnect();
  }
}
