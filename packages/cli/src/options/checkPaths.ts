import { existsSync, statSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { UsageError } from '../usageError.js';

function stat(path: string) {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/** An existing, non-empty regular file (weights, configs); a folder or a missing path is a usage error. */
export function requireFile(flag: string, path: string): string {
  const st = stat(path);
  if (!st) throw new UsageError(`${flag}: no such file: ${path}`);
  if (st.isDirectory()) throw new UsageError(`${flag}: ${path} is a directory, expected a file`);
  if (st.size === 0) throw new UsageError(`${flag}: ${path} is empty (0 bytes)`);
  return path;
}

/** A configuration file: {@link requireFile} with a YAML or JSON extension (`--config`, `--cfw-config`). */
export function requireConfigFile(flag: string, path: string): string {
  if (!['.yaml', '.yml', '.json'].includes(extname(path).toLowerCase())) throw new UsageError(`${flag}: expected a .yaml, .yml or .json file, got ${path}`);
  return requireFile(flag, path);
}

/** An existing file or folder (e.g. a tokenizer vocabulary file or the folder holding it). */
export function requireFileOrDir(flag: string, path: string): string {
  if (!stat(path)) throw new UsageError(`${flag}: no such file or directory: ${path}`);
  return path;
}

/** A path a new file can be written to: not a folder, and its folder exists. */
export function requireWritableFile(flag: string, path: string): string {
  const st = stat(path);
  if (st?.isDirectory()) throw new UsageError(`${flag}: ${path} is a directory, expected a file name`);
  const parent = dirname(resolve(path));
  const pst = stat(parent);
  if (!pst) throw new UsageError(`${flag}: folder ${dirname(path)} does not exist (for ${path})`);
  if (!pst.isDirectory()) throw new UsageError(`${flag}: ${dirname(path)} is not a directory (for ${path})`);
  return path;
}

export function isDirectory(path: string): boolean {
  return stat(path)?.isDirectory() ?? false;
}

export { existsSync };
