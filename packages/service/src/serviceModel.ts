import { type ProgressEvent } from '@stablesr/core';
import { type PatchOutput } from '@stablesr/stablesr';
import { type ModelDescriptor } from './modelDescriptor.js';
import { type RequestOptions } from './upscaleRequest.js';

/** What a running job hears and can be told. */
export interface JobControl {
  /** Aborts the run at the next sampling step (cancellation, shutdown). */
  signal?: AbortSignal;
  /** Fraction 0…1 of this run's sampling steps done. */
  onProgress?: (fraction: number) => void;
  /** Seconds of each sampling step (one network evaluation), for the step-latency histogram. */
  onStep?: (seconds: number) => void;
}

/** An encoded result. */
export interface EncodedResult {
  png: Buffer;
  width: number;
  height: number;
}

/**
 * A loaded model as the service runs it: whole jobs, and for multi-patch StableSR plans one pixel patch at a time
 * plus the blend, each giving the bytes a single `upscale` call gives.
 */
export interface ServiceModel {
  readonly descriptor: ModelDescriptor;
  upscale(input: Buffer, options: RequestOptions, ctl: JobControl): Promise<EncodedResult>;
  upscalePatch(input: Buffer, options: RequestOptions, index: number, ctl: JobControl): Promise<PatchOutput>;
  blendPatches(input: Buffer, options: RequestOptions, patches: readonly PatchOutput[]): Promise<EncodedResult>;
  dispose(): void;
}

/** The library's progress events as {@link JobControl} callbacks: `sample` events give the fraction and the step times. */
export function progressListener(ctl: JobControl): (e: ProgressEvent) => void {
  let last = performance.now();
  return (e) => {
    if (e.stage !== 'sample') return;
    const now = performance.now();
    ctl.onStep?.((now - last) / 1000);
    last = now;
    if (e.total > 0) ctl.onProgress?.(Math.min(1, e.done / e.total));
  };
}
