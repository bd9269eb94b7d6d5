import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { type TensorToWrite, openSafetensors } from '@stablesr/core';
import { type AdamState } from './adam.js';
import { verifySafetensorsChecksum, writeCheckedSafetensors } from './checkedSafetensors.js';

/** Metadata entry of a training checkpoint: its JSON {@link TrainingRecord}. */
export const TRAIN_METADATA_KEY = 'stablesr.train';

/** Everything of a run that is not a tensor: what is trained, how far, the random stream, the history. */
export interface TrainingRecord {
  format: 1;
  /** The model and objective; a resumed run must ask for the same (see {@link checkSameModel}). */
  spec: Record<string, unknown>;
  /** The options of the run that wrote it (for the record; a resumed run may change them). */
  options: Record<string, unknown>;
  /** Optimizer steps done. */
  step: number;
  /** The training stream's xoshiro128 state after `step` steps. */
  rng: number[];
  /** Training loss of every step so far, and the validation PSNR-Y wherever it was measured. */
  history: { loss: number[]; valSteps: number[]; valPsnr: number[] };
  /** Seconds of training so far, over all sessions. */
  seconds: number;
  split: { train: string[]; validation: string[] };
}

/** The tensors of a run: the parameters, Adam's moments and the EMA shadow (empty when EMA is off). */
export interface TrainingTensors {
  params: ReadonlyMap<string, tf.Tensor>;
  adam: AdamState;
  ema: ReadonlyMap<string, tf.Tensor>;
}

const GROUPS = { param: 'param.', m: 'adam.exp_avg.', v: 'adam.exp_avg_sq.', ema: 'ema.' } as const;

async function hostTensors(prefix: string, m: ReadonlyMap<string, tf.Tensor>, into: Map<string, TensorToWrite>): Promise<void> {
  for (const [k, t] of m) into.set(prefix + k, { shape: t.shape, data: (await t.data()) as Float32Array });
}

/** Saves a run's state to one safetensors file, atomically and with a checksum; the previous file stays until the new one is complete. */
export async function saveTrainingCheckpoint(path: string, record: TrainingRecord, t: TrainingTensors): Promise<void> {
  const tensors = new Map<string, TensorToWrite>();
  await hostTensors(GROUPS.param, t.params, tensors);
  await hostTensors(GROUPS.m, t.adam.expAvg, tensors);
  await hostTensors(GROUPS.v, t.adam.expAvgSq, tensors);
  await hostTensors(GROUPS.ema, t.ema, tensors);
  await writeCheckedSafetensors(path, tensors, { [TRAIN_METADATA_KEY]: JSON.stringify(record), format: 'pt' });
}

/** A checkpoint read back: its record and tensors (the caller owns them). */
export interface LoadedTrainingCheckpoint {
  record: TrainingRecord;
  tensors: { params: Map<string, tf.Tensor>; adam: AdamState; ema: Map<string, tf.Tensor> };
}

/**
 * Reads a checkpoint written by {@link saveTrainingCheckpoint}, or undefined when `path` does not exist. A damaged
 * file (checksum, truncation, malformed record) is an error naming it: resuming never starts from garbage.
 */
export function loadTrainingCheckpoint(path: string): LoadedTrainingCheckpoint | undefined {
  if (!existsSync(path)) return undefined;
  const fail = (why: string): never => {
    throw new Error(`cannot resume from ${path}: ${why}`);
  };
  let source;
  try {
    source = openSafetensors(path);
  } catch (e) {
    return fail((e as Error).message);
  }
  try {
    try {
      verifySafetensorsChecksum(path, source.metadata);
    } catch (e) {
      fail((e as Error).message);
    }
    const text = source.metadata[TRAIN_METADATA_KEY];
    if (text === undefined) fail(`no ${TRAIN_METADATA_KEY} record (not a stablesr training checkpoint)`);
    let record: TrainingRecord;
    try {
      record = JSON.parse(text!) as TrainingRecord;
    } catch (e) {
      return fail(`its ${TRAIN_METADATA_KEY} record is not JSON (${(e as Error).message})`);
    }
    if (record.format !== 1 || !Number.isInteger(record.step) || !Array.isArray(record.rng) || typeof record.spec !== 'object') fail(`its ${TRAIN_METADATA_KEY} record is malformed`);
    const groups = { param: new Map<string, tf.Tensor>(), m: new Map<string, tf.Tensor>(), v: new Map<string, tf.Tensor>(), ema: new Map<string, tf.Tensor>() };
    try {
      for (const [name, e] of source.entries()) {
        const g = (Object.keys(GROUPS) as (keyof typeof GROUPS)[]).find((k) => name.startsWith(GROUPS[k]));
        if (!g) fail(`unexpected tensor ${name}`);
        groups[g!].set(name.slice(GROUPS[g!].length), tf.tensor(e.read() as Float32Array, [...e.shape]));
      }
    } catch (e) {
      for (const m of Object.values(groups)) tf.dispose([...m.values()]);
      throw e;
    }
    return { record, tensors: { params: groups.param, adam: { step: record.step, expAvg: groups.m, expAvgSq: groups.v }, ema: groups.ema } };
  } finally {
    source.close();
  }
}

/**
 * Refuses to resume a run of another model: the first field of `wanted` whose value differs from the checkpoint's
 * is named, with both values.
 */
export function checkSameModel(path: string, saved: Record<string, unknown>, wanted: Record<string, unknown>, prefix = ''): void {
  for (const key of new Set([...Object.keys(saved), ...Object.keys(wanted)])) {
    const a = saved[key];
    const b = wanted[key];
    if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
      checkSameModel(path, a as Record<string, unknown>, b as Record<string, unknown>, `${prefix}${key}.`);
    } else if (a !== b) {
      throw new Error(`${path} holds a checkpoint of another model (${prefix}${key} ${JSON.stringify(a)} there, ${JSON.stringify(b)} asked): use another --out, or the options it was trained with`);
    }
  }
}
