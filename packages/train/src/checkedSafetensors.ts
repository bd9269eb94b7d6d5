import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type TensorToWrite, encodeSafetensors, writeFileAtomic } from '@stablesr/core';

/** Metadata entry holding the SHA-256 of a file's tensor data (everything after the header). */
export const DATA_SHA256_KEY = 'stablesr.data_sha256';

function dataRegion(bytes: Uint8Array): Uint8Array {
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true));
  return bytes.subarray(8 + headerLength);
}

/**
 * Writes a safetensors file atomically with the SHA-256 of its tensor data in the metadata, so that a file damaged
 * later (a flipped bit, a copy cut short) is detected on reading rather than trained or sampled from.
 */
export async function writeCheckedSafetensors(path: string, tensors: ReadonlyMap<string, TensorToWrite>, metadata: Record<string, string>): Promise<void> {
  const digest = createHash('sha256').update(dataRegion(encodeSafetensors(tensors))).digest('hex');
  await writeFileAtomic(path, encodeSafetensors(tensors, { ...metadata, [DATA_SHA256_KEY]: digest }));
}

/**
 * Verifies a file written by {@link writeCheckedSafetensors}: throws an error naming it when the data's hash differs
 * from the recorded one, or when there is none and `required`. Returns whether a hash was checked.
 */
export function verifySafetensorsChecksum(path: string, metadata: Readonly<Record<string, string>>, required = true): boolean {
  const want = metadata[DATA_SHA256_KEY];
  if (want === undefined) {
    if (required) throw new Error(`${path}: no ${DATA_SHA256_KEY} in its metadata (not written by stablesr train?)`);
    return false;
  }
  const got = createHash('sha256').update(dataRegion(readFileSync(path))).digest('hex');
  if (got !== want) throw new Error(`${path}: damaged (SHA-256 of its tensor data is ${got.slice(0, 12)}…, the file records ${want.slice(0, 12)}…)`);
  return true;
}
