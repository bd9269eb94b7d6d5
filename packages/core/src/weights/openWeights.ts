import { statSync } from 'node:fs';
import { extname } from 'node:path';
import { openDiffusersFolder } from './diffusersFolder.js';
import { openSafetensors } from './safetensors.js';
import { openTorchCheckpoint } from './torchCheckpoint.js';
import { type TensorSource, WeightFileError } from './tensorSource.js';
import { type Weights, weightsFromSource } from './weightView.js';

/** Opens the raw tensor source of a weight file or folder, choosing the format by extension / layout. */
export function openTensorSource(path: string): TensorSource {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    throw new WeightFileError(path, 'no such file or directory');
  }
  if (isDir) return openDiffusersFolder(path);
  const ext = extname(path).toLowerCase();
  if (ext === '.safetensors') return openSafetensors(path);
  if (ext === '.ckpt' || ext === '.pt' || ext === '.pth' || ext === '.bin') return openTorchCheckpoint(path);
  throw new WeightFileError(path, `unsupported weight file extension "${ext}" (expected .safetensors, .ckpt, .pt, .pth, .bin or a diffusers folder)`);
}

/**
 * Opens weights lazily (only headers are read; tensors are materialised when a model asks for them).
 * Supported: `.safetensors`, PyTorch zip checkpoints (`.ckpt`/`.pt`/`.pth`, Lightning `state_dict` nesting
 * included), and diffusers model folders.
 */
export function openWeights(path: string): Weights {
  return weightsFromSource(openTensorSource(path));
}
