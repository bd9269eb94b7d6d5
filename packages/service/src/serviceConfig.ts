/** Limits of the HTTP API, enforced before an upload is decoded. */
export interface ServiceLimits {
  /** Largest request body (encoded image bytes). */
  maxBodyBytes: number;
  /** Largest input image, width × height, read off its header. */
  maxPixels: number;
  /** Accepted jobs not yet started (queued) above which `POST /v1/upscale` answers 429. */
  maxQueued: number;
  /** How long results (and finished jobs' records) are kept. */
  resultTtlSeconds: number;
}

export const DEFAULT_SERVICE_LIMITS: ServiceLimits = {
  maxBodyBytes: 20 * 1024 * 1024,
  maxPixels: 4096 * 4096,
  maxQueued: 100,
  resultTtlSeconds: 3600,
};

/** How a worker takes jobs from the queue. */
export interface WorkerTuning {
  /** Jobs (or patches) run at the same time by one worker process. */
  concurrency: number;
  /**
   * How long a job's lock lasts without renewal. A worker that dies (SIGKILL, lost machine) holds its jobs this long
   * before another worker takes them over; it must exceed the longest stretch the worker's event loop can be busy
   * (one network evaluation on the tfjs engine; ONNX Runtime runs off the loop).
   */
  lockSeconds: number;
  /** How often a worker looks for jobs whose lock expired (stalled jobs) and puts them back in the queue. */
  stalledCheckSeconds: number;
  /** Tries per job or patch (a stalled job counts as one); exponential backoff between them. */
  attempts: number;
}

export const DEFAULT_WORKER_TUNING: WorkerTuning = { concurrency: 1, lockSeconds: 120, stalledCheckSeconds: 30, attempts: 3 };
