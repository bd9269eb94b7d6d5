import { randomBytes } from 'node:crypto';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** A temporary path beside `target` (same folder, so the final rename is atomic on one filesystem). */
export function tempPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/**
 * Produces `target` atomically: `produce` writes to a temporary file beside it, which is renamed onto
 * `target` only when `produce` succeeds. On any error the temporary file is removed and `target` is untouched,
 * so no half-written output is ever left behind.
 */
export async function writeAtomic<T>(target: string, produce: (tempPath: string) => Promise<T> | T): Promise<T> {
  const tmp = tempPathFor(target);
  try {
    const result = await produce(tmp);
    renameSync(tmp, target);
    return result;
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Writes bytes to `target` atomically (temp file + rename). */
export async function writeFileAtomic(target: string, data: Uint8Array | string): Promise<void> {
  await writeAtomic(target, (tmp) => writeFileSync(tmp, data));
}
