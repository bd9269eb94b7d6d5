import { DTYPE_BYTES, decodeRaw, shapeSize } from './dtype.js';
import { RandomAccessFile } from './fileRange.js';
import { unpickle } from './pickle.js';
import { type TensorEntry, type TensorSource, WeightFileError } from './tensorSource.js';
import { TorchTensorRef, torchGlobalResolver, torchPersistentLoader } from './torchGlobals.js';
import { ZipArchive } from './zipArchive.js';

export interface TorchCheckpointOptions {
  /**
   * Extra globals (exact `module.name` or `module.*`) to accept as inert placeholders, for harmless classes of
   * your own training code stored beside the state dict. They are never called. See `torchGlobals.ts`.
   */
  inertGlobals?: readonly string[];
}

/** The pickle of a whole Lightning checkpoint is a few MB; tensor data lives in separate entries. */
const MAX_PICKLE_BYTES = 1024 * 1024 * 1024;

/**
 * Opens a PyTorch zip checkpoint (`torch.save` ≥ 1.6: `.ckpt`, `.pt`, `.pth`, `.bin`) lazily.
 *
 * Only the zip directory and `<top>/data.pkl` are read here; the pickle is interpreted by a restricted
 * unpickler that never executes code (see `torchGlobals.ts` for the accepted globals). Each tensor reads its
 * own bytes from `<top>/data/<storage key>` when asked, so multi-GB checkpoints open in bounded memory.
 *
 * Keys: a top-level dict holding `state_dict` (PyTorch Lightning) contributes that dict; otherwise the top
 * dict itself. Nested dicts of tensors are flattened with `.` (`{'params_ema': {...}}` → `params_ema.*`);
 * non-tensor values inside are skipped. Scalar top-level values (`epoch`, `global_step`, versions) become
 * `metadata`. Tensors may be non-contiguous views (transposes, slices, expands): they are gathered into
 * row-major order on read.
 */
export function openTorchCheckpoint(path: string, options: TorchCheckpointOptions = {}): TensorSource {
  let file: RandomAccessFile;
  try {
    file = new RandomAccessFile(path);
  } catch (e) {
    throw new WeightFileError(path, `cannot open: ${(e as Error).message}`);
  }
  try {
    const head = file.read(0, Math.min(4, file.size));
    if (!isZipMagic(head)) throw new WeightFileError(path, describeNonZip(file));
    return parse(ZipArchive.open(file), options);
  } catch (e) {
    file.close();
    throw e;
  }
}

/** `PK\x03\x04`: the local-file-header signature every `torch.save` zip starts with. */
export function isZipMagic(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;
}

function describeNonZip(file: RandomAccessFile): string {
  const head = file.read(0, Math.min(16, file.size));
  // Legacy torch.save (before 1.6, or `_use_new_zipfile_serialization=False`) starts with a protocol-2 pickle
  // of the magic number 0x1950a86a20f9469cfc6c; very old ones are tar files.
  if (head[0] === 0x80 && head[1] !== undefined && head[1] <= 5) {
    return 'legacy (non-zip) PyTorch serialization format is not supported: re-save it with torch.save(obj, path) from torch >= 1.6, or convert it to .safetensors';
  }
  if (file.size > 262 && new TextDecoder('latin1').decode(file.read(257, 5)) === 'ustar') {
    return 'legacy tar-format PyTorch checkpoint is not supported: re-save it with torch.save from torch >= 1.6, or convert it to .safetensors';
  }
  return `not a PyTorch zip checkpoint (expected the zip signature "PK\\x03\\x04", found ${[...head.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ') || 'an empty file'})`;
}

function parse(zip: ZipArchive, options: TorchCheckpointOptions): TensorSource {
  const path = zip.path;
  const pkls = zip.names().filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkls.length !== 1) {
    const shown = zip.names().slice(0, 6).join(', ');
    throw new WeightFileError(path, pkls.length ? `several data.pkl entries (${pkls.join(', ')})` : `zip archive has no <name>/data.pkl: not a PyTorch checkpoint (entries: ${shown}${zip.names().length > 6 ? ', …' : ''})`);
  }
  const pklName = pkls[0]!;
  const top = pklName.slice(0, -'data.pkl'.length);
  const byteorder = zip.entry(`${top}byteorder`);
  if (byteorder && new TextDecoder().decode(zip.read(byteorder.name)).trim() !== 'little') {
    throw new WeightFileError(path, 'big-endian checkpoint: only little-endian tensor data is supported');
  }
  if (zip.entry(pklName)!.size > MAX_PICKLE_BYTES) throw new WeightFileError(path, `${pklName} is implausibly large (corrupt)`);
  const fail = (msg: string): never => {
    throw new WeightFileError(path, `${pklName}: ${msg}`);
  };
  const root = unpickle(zip.readVerified(pklName), {
    resolveGlobal: torchGlobalResolver(options.inertGlobals ?? [], fail),
    persistentLoad: torchPersistentLoader(fail),
    fail,
  });

  const metadata: Record<string, string> = {};
  let stateDict: unknown = root;
  if (root instanceof Map) {
    if (root.get('state_dict') instanceof Map) stateDict = root.get('state_dict');
    for (const [k, v] of root) {
      if (typeof k === 'string' && (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint')) metadata[k] = String(v);
    }
  }
  if (!(stateDict instanceof Map)) {
    throw new WeightFileError(path, root instanceof TorchTensorRef ? 'the checkpoint holds a single tensor, not a state dict' : 'the checkpoint does not hold a dict of tensors (state dict)');
  }

  const entries = new Map<string, TensorEntry>();
  const visit = (dict: Map<unknown, unknown>, prefix: string): void => {
    for (const [k, v] of dict) {
      if (typeof k !== 'string' && typeof k !== 'number') continue;
      const name = prefix + String(k);
      if (v instanceof TorchTensorRef) {
        if (entries.has(name)) throw new WeightFileError(path, 'duplicate tensor key after flattening nested dicts', name);
        entries.set(name, tensorEntry(zip, top, name, v));
      } else if (v instanceof Map) visit(v, `${name}.`);
    }
  };
  visit(stateDict, '');
  return { origin: path, metadata, entries: () => entries, close: () => zip.close() };
}

function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expected) return false;
    expected *= shape[i]!;
  }
  return true;
}

/** Validates a tensor's storage at open time (so a broken file fails early, naming the key) and builds its reader. */
function tensorEntry(zip: ZipArchive, top: string, name: string, t: TorchTensorRef): TensorEntry {
  const path = zip.path;
  const { storage, shape, stride, offset } = t;
  const dtype = storage.dtype;
  const es = DTYPE_BYTES[dtype];
  const dataName = `${top}data/${storage.key}`;
  const ze = zip.entry(dataName);
  if (!ze) throw new WeightFileError(path, `storage "${storage.key}" refers to zip entry "${dataName}", which is missing (truncated or corrupt checkpoint)`, name);
  if (ze.size < storage.numel * es) throw new WeightFileError(path, `zip entry "${dataName}" holds ${ze.size} bytes but storage "${storage.key}" needs ${storage.numel} × ${dtype} = ${storage.numel * es}`, name);
  const count = shapeSize(shape);
  // Index one past the furthest element the view touches.
  let extent = count === 0 ? 0 : offset + 1;
  if (count > 0) for (let i = 0; i < shape.length; i++) extent += (shape[i]! - 1) * stride[i]!;
  if (extent > storage.numel) throw new WeightFileError(path, `view (offset ${offset}, size [${shape.join(', ')}], stride [${stride.join(', ')}]) reaches element ${extent - 1} of a storage of ${storage.numel}`, name);
  const contiguous = isContiguous(shape, stride);
  const readRaw = (): Uint8Array => {
    if (count === 0) return new Uint8Array(0);
    if (contiguous) return zip.read(dataName, offset * es, count * es);
    return gather(zip.read(dataName, offset * es, (extent - offset) * es), shape, stride, es);
  };
  return {
    name,
    dtype,
    shape,
    readRaw,
    read: () => decodeRaw(readRaw(), dtype, count, () => `${path} [${name}]`),
  };
}

/** Copies a strided view (strides in elements, relative to `span`'s start) into row-major order. */
function gather(span: Uint8Array, shape: readonly number[], stride: readonly number[], es: number): Uint8Array {
  const rank = shape.length;
  const count = shapeSize(shape);
  const out = new Uint8Array(count * es);
  // The innermost dimension is copied as one run when it is dense.
  const inner = rank ? shape[rank - 1]! : 1;
  const innerDense = rank === 0 || stride[rank - 1] === 1;
  const idx = new Array<number>(Math.max(rank - 1, 0)).fill(0);
  let o = 0;
  for (let run = 0; run < count / inner; run++) {
    let src = 0;
    for (let d = 0; d < rank - 1; d++) src += idx[d]! * stride[d]!;
    if (innerDense) {
      out.set(span.subarray(src * es, (src + inner) * es), o);
      o += inner * es;
    } else {
      const s = rank ? stride[rank - 1]! : 0;
      for (let j = 0; j < inner; j++) {
        const b = (src + j * s) * es;
        for (let k = 0; k < es; k++) out[o++] = span[b + k]!;
      }
    }
    for (let d = rank - 2; d >= 0; d--) {
      if (++idx[d]! < shape[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}
