// Shared by the weight-reader tests: locations of the checked-in files written by test/data/make_checkpoints.py
// and the values that script recorded with PyTorch.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import type { TensorSource } from '@stablesr/core';

export const DATA = join(dirname(fileURLToPath(import.meta.url)), 'data');

export interface ExpectedTensor {
  dtype: string;
  shape: number[];
  values: number[];
}

export interface ExpectedFile {
  tensors: Record<string, ExpectedTensor>;
  metadata?: Record<string, string>;
  same_as?: string;
}

const raw = JSON.parse(readFileSync(join(DATA, 'expected.json'), 'utf8')) as Record<string, unknown>;

export function expectedFor(file: string): ExpectedFile {
  const e = raw[file] as ExpectedFile | undefined;
  if (!e) throw new Error(`expected.json has no entry for ${file}`);
  return e.same_as ? expectedFor(e.same_as) : e;
}

export function expectedRaw<T>(key: string): T {
  return raw[key] as T;
}

export function dataPath(...parts: string[]): string {
  return join(DATA, ...parts);
}

/** Asserts that `src` holds exactly the expected tensors (keys in order, dtypes, shapes, values bit for bit). */
export function assertTensors(t: ExecutionContext, src: TensorSource, expected: Record<string, ExpectedTensor>, prefix = ''): void {
  const entries = src.entries();
  t.deepEqual([...entries.keys()], Object.keys(expected).map((k) => prefix + k));
  for (const [k, want] of Object.entries(expected)) {
    const e = entries.get(prefix + k)!;
    t.is(e.dtype as string, want.dtype, k);
    t.deepEqual([...e.shape], want.shape, k);
    const got = e.read();
    t.is(got instanceof Float32Array, ['F32', 'F16', 'BF16', 'F64'].includes(want.dtype), `${k}: array type`);
    t.deepEqual([...got], want.values, k);
  }
}
