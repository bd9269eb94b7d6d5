import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { type DiffusersFolderOptions, openDiffusersFolder } from './diffusersFolder.js';
import { openSafetensors } from './safetensors.js';
import { isZipMagic, openTorchCheckpoint } from './torchCheckpoint.js';
import { type TensorSource, WeightFileError } from './tensorSource.js';
import { type Weights, weightsFromSource } from './weightView.js';

export interface OpenWeightsOptions {
  /** Diffusers weight variant (`'fp16'`), see {@link DiffusersFolderOptions.variant}. */
  variant?: string;
  /** Extra inert pickle globals for PyTorch checkpoints, see `TorchCheckpointOptions.inertGlobals`. */
  inertGlobals?: readonly string[];
}

const TORCH_EXTENSIONS = new Set(['.ckpt', '.pt', '.pth', '.bin']);

/**
 * Opens the raw tensor source of a weight file or folder. Folders are diffusers folders; files are recognised
 * by content first (zip signature → PyTorch checkpoint, JSON header → safetensors), then by extension, so a
 * misnamed file still opens and a legacy non-zip `.pt` gets a precise error.
 */
export function openTensorSource(path: string, options: OpenWeightsOptions = {}): TensorSource {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    throw new WeightFileError(path, 'no such file or directory');
  }
  const torchOpts = options.inertGlobals ? { inertGlobals: options.inertGlobals } : {};
  if (isDir) return openDiffusersFolder(path, { ...(options.variant !== undefined ? { variant: options.variant } : {}), torch: torchOpts });
  const head = readHead(path, 9);
  if (isZipMagic(head)) return openTorchCheckpoint(path, torchOpts);
  if (looksLikeSafetensors(head)) return openSafetensors(path);
  const ext = extname(path).toLowerCase();
  if (ext === '.safetensors') return openSafetensors(path);
  if (TORCH_EXTENSIONS.has(ext)) return openTorchCheckpoint(path, torchOpts);
  throw new WeightFileError(path, `unsupported weight file extension "${ext}" (expected .safetensors, .ckpt, .pt, .pth, .bin or a diffusers folder)`);
}

/**
 * Opens weights lazily (only headers are read; tensors are materialised when a model asks for them).
 * Supported: `.safetensors`, PyTorch zip checkpoints (`.ckpt`/`.pt`/`.pth`/`.bin`, Lightning `state_dict`
 * nesting included), and diffusers folders (keys prefixed by component: `unet.`, `vae.`, `text_encoder.`).
 */
export function openWeights(path: string, options: OpenWeightsOptions = {}): Weights {
  return weightsFromSource(openTensorSource(path, options));
}

function readHead(path: string, n: number): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new WeightFileError(path, `cannot open: ${(e as Error).message}`);
  }
  try {
    const buf = new Uint8Array(n);
    const got = readSync(fd, buf, 0, n, 0);
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/** safetensors starts with a little-endian u64 header length followed by the JSON header's `{`. */
function looksLikeSafetensors(head: Uint8Array): boolean {
  if (head.length < 9 || head[8] !== 0x7b) return false;
  const len = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
  return len > 1n && len < 100n * 1024n * 1024n;
}

/**
 * The tensor names of a weight file, or undefined when it cannot be opened as one (for telling model families
 * apart before loading: the loader that then runs reports what is wrong with the file).
 */
export function weightKeysIfReadable(path: string): string[] | undefined {
  try {
    const w = openWeights(path);
    try {
      return w.keys();
    } finally {
      w.close();
    }
  } catch {
    return undefined;
  }
}
