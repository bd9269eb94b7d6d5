import { DTYPE_BYTES, decodeRaw, floatToHalfBits as floatToHalf, isStorageDType, shapeSize } from './dtype.js';
import { RandomAccessFile } from './fileRange.js';
import { type TensorEntry, type TensorSource, WeightFileError } from './tensorSource.js';

const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/**
 * Opens a `.safetensors` file lazily: only the JSON header is read here; tensors read their bytes on demand.
 * The header is validated completely (dtypes, shapes, offsets inside the data area, no overlaps) so a
 * corrupt file fails here with the file and key named, not later inside a model.
 */
export function openSafetensors(path: string): TensorSource {
  let file: RandomAccessFile;
  try {
    file = new RandomAccessFile(path);
  } catch (e) {
    throw new WeightFileError(path, `cannot open: ${(e as Error).message}`);
  }
  try {
    return parse(file);
  } catch (e) {
    file.close();
    throw e;
  }
}

function parse(file: RandomAccessFile): TensorSource {
  const path = file.path;
  if (file.size < 8) throw new WeightFileError(path, `not a safetensors file: ${file.size} bytes is shorter than the 8-byte header length`);
  const lenBytes = file.read(0, 8);
  const headerLen = Number(new DataView(lenBytes.buffer).getBigUint64(0, true));
  if (headerLen > MAX_HEADER_BYTES) throw new WeightFileError(path, `header length ${headerLen} is implausibly large (corrupt or not a safetensors file)`);
  if (8 + headerLen > file.size) throw new WeightFileError(path, `header length ${headerLen} runs past the end of the file (${file.size} bytes): truncated or corrupt`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(file.read(8, headerLen)));
  } catch (e) {
    throw new WeightFileError(path, `header is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new WeightFileError(path, 'header is not a JSON object');
  const dataStart = 8 + headerLen;
  const dataLen = file.size - dataStart;
  const entries = new Map<string, TensorEntry>();
  let metadata: Record<string, string> = {};
  const ranges: Array<[number, number, string]> = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw && typeof raw === 'object') metadata = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, String(v)]));
      continue;
    }
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof info !== 'object' || info === null) throw new WeightFileError(path, 'tensor entry is not an object', name);
    const dtype = String(info.dtype);
    if (!isStorageDType(dtype)) throw new WeightFileError(path, `unknown dtype "${dtype}"`, name);
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) throw new WeightFileError(path, `invalid shape ${JSON.stringify(shape)}`, name);
    const off = info.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isInteger(d) && d >= 0)) throw new WeightFileError(path, `invalid data_offsets ${JSON.stringify(off)}`, name);
    const [begin, end] = off as [number, number];
    if (end < begin || end > dataLen) throw new WeightFileError(path, `data_offsets [${begin}, ${end}] lie outside the data area (${dataLen} bytes): truncated or corrupt`, name);
    const count = shapeSize(shape as number[]);
    if (end - begin !== count * DTYPE_BYTES[dtype]) throw new WeightFileError(path, `data_offsets span ${end - begin} bytes but shape ${JSON.stringify(shape)} of ${dtype} needs ${count * DTYPE_BYTES[dtype]}`, name);
    ranges.push([begin, end, name]);
    const frozenShape = Object.freeze([...(shape as number[])]);
    entries.set(name, {
      name,
      dtype,
      shape: frozenShape,
      readRaw: () => file.read(dataStart + begin, end - begin),
      read: () => decodeRaw(file.read(dataStart + begin, end - begin), dtype, count, () => `${path} [${name}]`),
    });
  }
  ranges.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < ranges.length; i++) {
    const prev = ranges[i - 1]!;
    const cur = ranges[i]!;
    if (cur[0] < prev[1]) throw new WeightFileError(path, `data of "${cur[2]}" overlaps "${prev[2]}"`, cur[2]);
  }
  return { origin: path, metadata, entries: () => entries, close: () => file.close() };
}

/** A tensor to write: float data is written as F32 (or F16 when asked), int32 data as I32. */
export interface TensorToWrite {
  shape: readonly number[];
  data: Float32Array | Int32Array;
  dtype?: 'F32' | 'F16' | 'I32';
}

/** Serialises tensors into safetensors bytes (header padded to a multiple of 8, as the reference writer does). */
export function encodeSafetensors(tensors: ReadonlyMap<string, TensorToWrite> | Record<string, TensorToWrite>, metadata?: Record<string, string>): Uint8Array {
  const map: ReadonlyMap<string, TensorToWrite> = tensors instanceof Map ? tensors : new Map(Object.entries(tensors as Record<string, TensorToWrite>));
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of map) {
    const dtype: 'F32' | 'F16' | 'I32' = t.dtype ?? (t.data instanceof Int32Array ? 'I32' : 'F32');
    const bytes = encodeData(t.data, dtype);
    if (bytes.byteLength !== shapeSize(t.shape) * DTYPE_BYTES[dtype]) throw new Error(`tensor "${name}": data length does not match shape ${JSON.stringify(t.shape)}`);
    header[name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes.byteLength] };
    chunks.push(bytes);
    offset += bytes.byteLength;
  }
  let json = JSON.stringify(header);
  while ((8 + Buffer.byteLength(json)) % 8 !== 0) json += ' ';
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.byteLength;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.byteLength;
  }
  return out;
}

function encodeData(data: Float32Array | Int32Array, dtype: 'F32' | 'F16' | 'I32'): Uint8Array {
  if (dtype === 'F16') {
    const out = new Uint16Array(data.length);
    for (let i = 0; i < data.length; i++) out[i] = floatToHalf(data[i]!);
    return new Uint8Array(out.buffer);
  }
  const typed = dtype === 'I32' ? Int32Array.from(data) : Float32Array.from(data);
  return new Uint8Array(typed.buffer);
}
