/** The states a job goes through. `cancelled` and `failed` are final, like `done`. */
export const JOB_STATES = ['queued', 'running', 'done', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** `GET /v1/jobs/{id}`. */
export interface JobStatus {
  id: string;
  status: JobState;
  /** 0…1: sampling steps done over all of the job's pixel patches. */
  progress: number;
  /** Seconds to completion, extrapolated from the progress so far (running jobs with progress only). */
  etaSeconds?: number;
  /** One line, for `failed`. */
  error?: string;
  /** Size of the output image (known once accepted: it follows from the input size and the options). */
  outputSize?: { width: number; height: number };
  /** Pixel patches the job was split into (1: not split). */
  patches: number;
}

/** Seconds left at `progress` after `elapsedSeconds`, or undefined before any progress. */
export function etaSeconds(progress: number, elapsedSeconds: number): number | undefined {
  if (!(progress > 0) || progress >= 1) return undefined;
  return Math.round((elapsedSeconds * (1 - progress)) / progress * 10) / 10;
}
