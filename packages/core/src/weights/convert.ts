import { closeSync, openSync, writeSync } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { writeAtomic } from '../io/atomicWrite.js';
import { type ProgressCallback, throwIfAborted } from '../progress.js';
import { DTYPE_BYTES, floatToHalfBits, isFloatDType, shapeSize } from './dtype.js';
import { type OpenWeightsOptions, openTensorSource } from './openWeights.js';
import { type StorageDType, type TensorEntry, type TensorSource, WeightFileError } from './tensorSource.js';

export interface ConvertOptions extends OpenWeightsOptions {
  /** Write every floating-point tensor as F16 (round to nearest even). Integer tensors are copied unchanged. */
  fp16?: boolean;
  /** Reports `{ stage: 'convert', done, total }` after each tensor. */
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

export interface ConvertResult {
  tensors: number;
  /** Size of the written file. */
  bytes: number;
  /** Output dtype → tensor count. */
  dtypes: Record<string, number>;
}

/**
 * Converts any supported weight file or folder (PyTorch checkpoint, diffusers folder, safetensors) into a
 * single `.safetensors` file.
 *
 * Tensors keep their stored dtype and bytes exactly (F64, BF16 and I64 included) unless `fp16` is set, in which
 * case floating-point tensors become F16; a finite value beyond the F16 range is an error naming the key.
 * The header is written first and then each tensor's bytes in turn, so converting a multi-GB checkpoint holds
 * one tensor in memory, never two copies of the file. The output appears atomically (temporary file + rename):
 * a failed or aborted conversion leaves nothing behind. Source metadata (Lightning `epoch`, …) is kept in
 * `__metadata__` beside `format: pt`.
 */
export async function convertWeights(inPath: string, outPath: string, options: ConvertOptions = {}): Promise<ConvertResult> {
  const src = openTensorSource(inPath, options);
  try {
    return await writeSafetensors(src, outPath, options);
  } finally {
    src.close();
  }
}

/**
 * Writes every tensor of `src` to one `.safetensors` file at `outPath`, streaming (one tensor in memory at a
 * time) and atomically, with the dtype rules of {@link convertWeights}. The caller closes `src`.
 */
export async function writeSafetensors(src: TensorSource, outPath: string, options: Pick<ConvertOptions, 'fp16' | 'onProgress' | 'signal'> = {}): Promise<ConvertResult> {
  const plan = [...src.entries().values()].map((e) => ({ entry: e, dtype: outputDType(e, !!options.fp16) }));
  const header: Record<string, unknown> = { __metadata__: { ...src.metadata, format: 'pt' } };
  let offset = 0;
  const dtypes: Record<string, number> = {};
  for (const { entry, dtype } of plan) {
    const size = shapeSize(entry.shape) * DTYPE_BYTES[dtype];
    header[entry.name] = { dtype, shape: [...entry.shape], data_offsets: [offset, offset + size] };
    offset += size;
    dtypes[dtype] = (dtypes[dtype] ?? 0) + 1;
  }
  let json = JSON.stringify(header);
  // The reference writer pads the header with spaces so the data area starts 8-byte aligned.
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const lenBytes = Buffer.alloc(8);
  lenBytes.writeBigUInt64LE(BigInt(headerBytes.byteLength));
  const total = 8 + headerBytes.byteLength + offset;

  await writeAtomic(outPath, async (tmp) => {
    const fd = openSync(tmp, 'w');
    try {
      writeAll(fd, lenBytes);
      writeAll(fd, headerBytes);
      for (let i = 0; i < plan.length; i++) {
        throwIfAborted(options.signal);
        const { entry, dtype } = plan[i]!;
        const bytes = encode(entry, dtype, src.origin);
        const want = shapeSize(entry.shape) * DTYPE_BYTES[dtype];
        if (bytes.byteLength !== want) throw new WeightFileError(src.origin, `produced ${bytes.byteLength} bytes, expected ${want}`, entry.name);
        writeAll(fd, bytes);
        options.onProgress?.({ stage: 'convert', done: i + 1, total: plan.length, detail: { key: entry.name } });
        // Lets timers and abort signals fire between tensors of a long conversion.
        await nextTurn();
      }
    } finally {
      closeSync(fd);
    }
  });
  return { tensors: plan.length, bytes: total, dtypes };
}

function outputDType(e: TensorEntry, fp16: boolean): StorageDType {
  if (isFloatDType(e.dtype)) return fp16 ? 'F16' : e.readRaw ? e.dtype : 'F32';
  return e.readRaw ? e.dtype : 'I32';
}

function encode(e: TensorEntry, dtype: StorageDType, origin: string): Uint8Array {
  if (dtype === e.dtype && e.readRaw) return e.readRaw();
  const data = e.read();
  if (dtype === 'F16') {
    const out = new Uint16Array(data.length);
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      const h = floatToHalfBits(v);
      if ((h & 0x7c00) === 0x7c00 && Number.isFinite(v)) throw new WeightFileError(origin, `value ${v} at index ${i} overflows float16 (convert without --fp16)`, e.name);
      out[i] = h;
    }
    return new Uint8Array(out.buffer);
  }
  // Fallback for sources without raw access: float32 / int32 as read.
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.byteLength) done += writeSync(fd, bytes, done, bytes.byteLength - done);
}
