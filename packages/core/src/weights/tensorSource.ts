/**
 * The storage-level description of one tensor inside a weight file, before it is materialised.
 * Every file format (safetensors, PyTorch zip checkpoints, diffusers folders) is reduced to a
 * {@link TensorSource}: a flat map of names to these entries, each able to read its own bytes on demand.
 */
export type StorageDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export interface TensorEntry {
  /** Full key as written in the file, e.g. `first_stage_model.encoder.conv_in.weight`. */
  readonly name: string;
  readonly dtype: StorageDType;
  /** PyTorch (row-major) shape as stored. */
  readonly shape: readonly number[];
  /** Reads and converts the tensor: floats become float32, integers int32 (int64 must fit). */
  read(): Float32Array | Int32Array;
  /**
   * The stored bytes, little-endian in `dtype`, row-major contiguous (strided views already gathered), without
   * any conversion. Lets format converters copy tensors losslessly; every built-in reader provides it.
   */
  readRaw?(): Uint8Array;
}

/** A flat, lazily-read collection of tensors from one or more files. */
export interface TensorSource {
  /** Human-readable origin used in error messages (usually the file path). */
  readonly origin: string;
  /** Metadata strings, where the format has them (safetensors `__metadata__`). */
  readonly metadata: Readonly<Record<string, string>>;
  entries(): ReadonlyMap<string, TensorEntry>;
  /** Releases file handles. Tensors already materialised stay valid. */
  close(): void;
}

/** Error raised for malformed, truncated or unsupported weight files, or bad keys/shapes. */
export class WeightFileError extends Error {
  constructor(
    readonly file: string,
    message: string,
    readonly key?: string,
  ) {
    super(`${file}${key !== undefined ? ` [${key}]` : ''}: ${message}`);
    this.name = 'WeightFileError';
  }
}
