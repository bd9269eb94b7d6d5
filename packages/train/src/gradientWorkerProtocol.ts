import { type IRSDEBatchRows, type IRSDEStepSpec } from './irsdeBatchGradients.js';

/** A parameter or gradient on the wire: key, shape and values (the buffer is transferred, not copied). */
export interface WireParameter {
  key: string;
  shape: number[];
  data: Float32Array;
}

/** Requests to a gradient worker; every reply carries the request's id. */
export type GradientRequest = { id: number; type: 'init'; spec: IRSDEStepSpec } | { id: number; type: 'step'; params: WireParameter[]; rows: IRSDEBatchRows };

export type GradientReply = { id: number; ok: true; loss?: number; grads?: WireParameter[] } | { id: number; ok: false; error: string };
