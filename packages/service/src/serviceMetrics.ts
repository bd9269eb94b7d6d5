import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { type JobQueue, type QueueObserver } from './jobQueue.js';
import { JOB_STATES, type JobState } from './jobStatus.js';

/**
 * The Prometheus metrics of `GET /metrics` (prom-client): jobs by state and queue depth (read from the queue at
 * each scrape), job latency (submission → end) and sampling-step latency histograms (from finished jobs, whichever
 * worker ran them), and HTTP responses by route and status.
 */
export class ServiceMetrics implements QueueObserver {
  readonly registry = new Registry();
  private readonly jobSeconds: Histogram<'state'>;
  private readonly stepSeconds: Histogram;
  readonly http: Counter<'route' | 'code'>;

  constructor(queue: JobQueue) {
    const registers = [this.registry];
    new Gauge({
      name: 'stablesr_jobs',
      help: 'Jobs by state (done/failed: those still kept, see the result TTL)',
      labelNames: ['state'],
      registers,
      async collect() {
        const c = await queue.counts().catch(() => undefined);
        if (c) for (const s of JOB_STATES) this.set({ state: s }, c[s]);
      },
    });
    new Gauge({
      name: 'stablesr_queue_depth',
      help: 'Accepted jobs waiting for a worker',
      registers,
      async collect() {
        const n = await queue.queued().catch(() => undefined);
        if (n !== undefined) this.set(n);
      },
    });
    this.jobSeconds = new Histogram({ name: 'stablesr_job_duration_seconds', help: 'Seconds from submission to the end of a job', labelNames: ['state'], buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800], registers });
    this.stepSeconds = new Histogram({ name: 'stablesr_step_duration_seconds', help: 'Seconds per sampling step (one network evaluation)', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers });
    this.http = new Counter({ name: 'stablesr_http_responses_total', help: 'HTTP responses by route and status code', labelNames: ['route', 'code'], registers });
    queue.observe(this);
  }

  finished(state: JobState, seconds: number): void {
    this.jobSeconds.observe({ state }, seconds);
  }

  step(seconds: number): void {
    this.stepSeconds.observe(seconds);
  }
}
