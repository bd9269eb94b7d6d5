import { type JobQueue, type QueueObserver } from './jobQueue.js';
import { newJobId } from './jobId.js';
import { JOB_STATES, type JobState, type JobStatus, etaSeconds } from './jobStatus.js';
import { type ModelDescriptor } from './modelDescriptor.js';
import { type ServiceModel } from './serviceModel.js';
import { type UpscaleRequest } from './upscaleRequest.js';

interface LocalJob {
  id: string;
  request: UpscaleRequest;
  input: Buffer | undefined;
  state: JobState;
  progress: number;
  startedAt?: number;
  submittedAt: number;
  error?: string;
  result?: Buffer;
  abort?: AbortController;
}

/**
 * The in-process queue of `stablesr serve` without `--redis`: the same API and semantics as {@link RedisJobQueue}
 * (queued → running → done / failed / cancelled, progress, cancellation at the next step, results kept for
 * `resultTtlSeconds`), run by the model loaded in this process, `concurrency` jobs at a time, first come first
 * served. A multi-patch image runs as one `upscale` call, which computes and blends its patches with the same
 * steps a distributed run uses. Nothing survives a restart.
 */
export class LocalJobQueue implements JobQueue {
  private readonly jobs = new Map<string, LocalJob>();
  private readonly waiting: LocalJob[] = [];
  private running = 0;
  private closing = false;
  private readonly idle: (() => void)[] = [];

  constructor(private readonly model: ServiceModel, private readonly o: { concurrency: number; resultTtlSeconds: number; observer?: QueueObserver }) {}

  observe(observer: QueueObserver): void {
    this.o.observer = observer;
  }

  async models(): Promise<ModelDescriptor[]> {
    return [this.model.descriptor];
  }

  async queued(): Promise<number> {
    return this.waiting.length;
  }

  async submit(input: Buffer, request: UpscaleRequest): Promise<string> {
    if (this.closing) throw new Error('the service is shutting down');
    const job: LocalJob = { id: newJobId(), request, input, state: 'queued', progress: 0, submittedAt: Date.now() };
    this.jobs.set(job.id, job);
    this.waiting.push(job);
    this.pump();
    return job.id;
  }

  async status(id: string): Promise<JobStatus | undefined> {
    const j = this.jobs.get(id);
    if (!j) return undefined;
    const eta = j.state === 'running' && j.startedAt ? etaSeconds(j.progress, (Date.now() - j.startedAt) / 1000) : undefined;
    return {
      id,
      status: j.state,
      progress: j.state === 'done' ? 1 : j.progress,
      ...(eta !== undefined && { etaSeconds: eta }),
      ...(j.error !== undefined && { error: j.error }),
      outputSize: { width: j.request.outputWidth, height: j.request.outputHeight },
      patches: j.request.patches,
    };
  }

  async result(id: string): Promise<Buffer | undefined> {
    return this.jobs.get(id)?.result;
  }

  async cancel(id: string): Promise<JobStatus | undefined> {
    const j = this.jobs.get(id);
    if (!j) return undefined;
    if (j.state === 'queued') {
      this.waiting.splice(this.waiting.indexOf(j), 1);
      this.finish(j, 'cancelled');
    } else if (j.state === 'running') {
      // Final at once for the client; the run itself stops at its next step and its outcome is dropped.
      j.state = 'cancelled';
      j.abort?.abort();
    }
    return this.status(id);
  }

  async counts(): Promise<Record<JobState, number>> {
    const c = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
    for (const j of this.jobs.values()) c[j.state]++;
    return c;
  }

  /** Drains: no new jobs, queued ones cancelled, running ones finish. */
  async close(): Promise<void> {
    this.closing = true;
    for (const j of this.waiting.splice(0)) this.finish(j, 'cancelled');
    if (this.running > 0) await new Promise<void>((ok) => this.idle.push(ok));
  }

  private pump(): void {
    while (this.running < this.o.concurrency && this.waiting.length > 0) void this.run(this.waiting.shift()!);
  }

  private async run(j: LocalJob): Promise<void> {
    this.running++;
    j.state = 'running';
    j.startedAt = Date.now();
    j.abort = new AbortController();
    try {
      const r = await this.model.upscale(j.input!, j.request.options, {
        signal: j.abort.signal,
        onProgress: (p) => (j.progress = p),
        onStep: (s) => this.o.observer?.step(s),
      });
      if (j.state === 'running') {
        j.result = r.png;
        this.finish(j, 'done');
      } else this.finish(j, j.state);
    } catch (e) {
      if (j.state === 'running') {
        j.error = (e as Error).message.split('\n')[0]!;
        this.finish(j, 'failed');
      } else this.finish(j, j.state);
    } finally {
      this.running--;
      this.pump();
      if (this.running === 0) for (const ok of this.idle.splice(0)) ok();
    }
  }

  private finish(j: LocalJob, state: JobState): void {
    j.state = state;
    j.input = undefined;
    delete j.abort;
    this.o.observer?.finished(state, (Date.now() - j.submittedAt) / 1000);
    // Results and records expire like Redis keys; unref'd so that a pending expiry never keeps the process alive.
    setTimeout(() => this.jobs.delete(j.id), this.o.resultTtlSeconds * 1000).unref();
  }
}
