/** A progress report from long-running work (sampling steps, tiles, batches). */
export interface ProgressEvent {
  /** What is running: `encode`, `sample`, `decode`, `tile`, … */
  stage: string;
  /** Units done so far in this stage (1-based after the first unit finishes). */
  done: number;
  /** Units in this stage. */
  total: number;
  /** Optional extra detail (tile index, timestep). */
  detail?: Record<string, number | string>;
}

export type ProgressCallback = (event: ProgressEvent) => void;

/** Error thrown when an AbortSignal fires between units of work. */
export class AbortError extends Error {
  constructor(message = 'operation aborted') {
    super(message);
    this.name = 'AbortError';
  }
}

/** Throws {@link AbortError} if the signal has fired. Long loops call this between units. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    const reason = signal.reason;
    throw reason instanceof Error ? reason : new AbortError(typeof reason === 'string' ? reason : undefined);
  }
}
