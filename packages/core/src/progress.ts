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
    const reason: unknown = signal.reason;
    // Node's default reason for a bare abort() is a DOMException named AbortError; callers (and ava's
    // throwsAsync) expect a real Error subclass, so anything that is not one becomes our AbortError.
    if (reason instanceof Error && !(typeof DOMException !== 'undefined' && reason instanceof DOMException)) throw reason;
    const message = typeof reason === 'string' ? reason : reason instanceof Error ? reason.message : undefined;
    throw new AbortError(message);
  }
}
