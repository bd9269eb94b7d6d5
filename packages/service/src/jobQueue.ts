import { type JobState, type JobStatus } from './jobStatus.js';
import { type ModelDescriptor } from './modelDescriptor.js';
import { type UpscaleRequest } from './upscaleRequest.js';

/** What the metrics hear from a queue: each finished job (state, seconds from submission) and sampling steps. */
export interface QueueObserver {
  finished(state: JobState, seconds: number): void;
  step(seconds: number): void;
}

/**
 * The job queue behind the HTTP API. Two implementations with the same semantics: {@link RedisJobQueue} (BullMQ on
 * Redis, workers in other processes or machines, durable) and {@link LocalJobQueue} (in this process, for one
 * machine; jobs do not survive a restart).
 */
export interface JobQueue {
  /** The models requests can name. */
  models(): Promise<ModelDescriptor[]>;
  /** Accepted jobs not yet started. */
  queued(): Promise<number>;
  /** Accepts a validated request with its image bytes; returns the job id. */
  submit(input: Buffer, request: UpscaleRequest): Promise<string>;
  /** Undefined: unknown id (never existed, or expired). */
  status(id: string): Promise<JobStatus | undefined>;
  /** The result image (PNG) of a done job; undefined otherwise. */
  result(id: string): Promise<Buffer | undefined>;
  /** Cancels a queued or running job (a running one stops at its next step); returns its status after, or undefined when unknown. */
  cancel(id: string): Promise<JobStatus | undefined>;
  /** Jobs by state, for the metrics. */
  counts(): Promise<Record<JobState, number>>;
  /** Where finished jobs and sampling steps are reported (the metrics). */
  observe(observer: QueueObserver): void;
  /** Stops taking jobs and releases the queue; running in-process jobs finish first. */
  close(): Promise<void>;
}
