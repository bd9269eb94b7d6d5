import { type TensorSource, WeightFileError } from './tensorSource.js';

/** diffusers folder reader (placeholder until implemented). */
export function openDiffusersFolder(path: string): TensorSource {
  throw new WeightFileError(path, 'diffusers folders are not supported yet');
}
