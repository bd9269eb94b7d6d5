import { type TensorSource, WeightFileError } from './tensorSource.js';

/** PyTorch zip checkpoint reader (placeholder until implemented). */
export function openTorchCheckpoint(path: string): TensorSource {
  throw new WeightFileError(path, 'PyTorch checkpoints are not supported yet');
}
