import { crc32, inflateRawSync } from 'node:zlib';
import { RandomAccessFile } from './fileRange.js';
import { WeightFileError } from './tensorSource.js';

/**
 * A read-only zip archive over a {@link RandomAccessFile}: only the central directory is read at open,
 * entries read their bytes (or a byte range of them) on demand. This is what lets a multi-GB PyTorch
 * checkpoint open in bounded memory. Stored (method 0) and deflated (method 8) entries are supported,
 * as is ZIP64 (archives and entries over 4 GB, which `torch.save` writes for large checkpoints).
 */

/** One central-directory record (sizes and offsets already widened from their ZIP64 extra field). */
export interface ZipEntry {
  readonly name: string;
  /** 0 = stored, 8 = deflate. */
  readonly method: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly crc32: number;
  /** Offset of the local file header. */
  readonly localHeaderOffset: number;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const EOCD_MIN = 22;
const MAX_COMMENT = 0xffff;
/** The central directory is read in one piece; a state dict's directory is a few MB at most. */
const MAX_CENTRAL_DIR_BYTES = 512 * 1024 * 1024;

export class ZipArchive {
  private readonly byName: Map<string, ZipEntry>;
  private readonly dataOffsets = new Map<string, number>();

  private constructor(
    readonly file: RandomAccessFile,
    entries: ZipEntry[],
  ) {
    this.byName = new Map(entries.map((e) => [e.name, e]));
  }

  /** Opens `file` as a zip archive, reading and validating the central directory. The archive owns `file`. */
  static open(file: RandomAccessFile): ZipArchive {
    return new ZipArchive(file, readCentralDirectory(file));
  }

  /** Path of the archive file, for messages. */
  get path(): string {
    return this.file.path;
  }

  /** Entry names in central-directory order. */
  names(): string[] {
    return [...this.byName.keys()];
  }

  /** The directory record of `name`, or undefined. */
  entry(name: string): ZipEntry | undefined {
    return this.byName.get(name);
  }

  /**
   * Reads `length` bytes starting `offset` bytes into the uncompressed entry. Stored entries read only that
   * range from disk; deflated entries have to be inflated whole (PyTorch never compresses tensor data).
   */
  read(name: string, offset = 0, length?: number): Uint8Array {
    const e = this.byName.get(name);
    if (!e) throw new WeightFileError(this.path, `zip entry "${name}" is missing`);
    const len = length ?? e.size - offset;
    if (offset < 0 || len < 0 || offset + len > e.size) {
      throw new WeightFileError(this.path, `read of ${len} bytes at ${offset} lies outside zip entry "${name}" (${e.size} bytes)`);
    }
    const start = this.dataOffset(e);
    if (e.method === 0) return this.file.read(start + offset, len);
    const raw = this.file.read(start, e.compressedSize);
    let out: Uint8Array;
    try {
      out = inflateRawSync(raw);
    } catch (err) {
      throw new WeightFileError(this.path, `zip entry "${name}" does not inflate: ${(err as Error).message} (corrupt)`);
    }
    if (out.byteLength !== e.size) throw new WeightFileError(this.path, `zip entry "${name}" inflates to ${out.byteLength} bytes, the directory says ${e.size} (corrupt)`);
    return out.subarray(offset, offset + len);
  }

  /** Reads a whole entry and checks its CRC-32 (for small entries such as the pickle). */
  readVerified(name: string): Uint8Array {
    const bytes = this.read(name);
    const e = this.byName.get(name)!;
    if ((crc32(bytes) >>> 0) !== e.crc32) throw new WeightFileError(this.path, `zip entry "${name}" fails its CRC-32 check (corrupt)`);
    return bytes;
  }

  /** Closes the underlying file. */
  close(): void {
    this.file.close();
  }

  /** The local header's extra field may differ from the central one (alignment padding), so it is read here. */
  private dataOffset(e: ZipEntry): number {
    const known = this.dataOffsets.get(e.name);
    if (known !== undefined) return known;
    if (e.localHeaderOffset + 30 > this.file.size) throw new WeightFileError(this.path, `local header of zip entry "${e.name}" lies past the end of the file (truncated)`);
    const h = this.file.read(e.localHeaderOffset, 30);
    const v = new DataView(h.buffer, h.byteOffset, h.byteLength);
    if (v.getUint32(0, true) !== SIG_LOCAL) throw new WeightFileError(this.path, `local header of zip entry "${e.name}" has a bad signature (corrupt)`);
    const start = e.localHeaderOffset + 30 + v.getUint16(26, true) + v.getUint16(28, true);
    if (start + e.compressedSize > this.file.size) throw new WeightFileError(this.path, `data of zip entry "${e.name}" runs past the end of the file (truncated)`);
    this.dataOffsets.set(e.name, start);
    return start;
  }
}

function readCentralDirectory(file: RandomAccessFile): ZipEntry[] {
  const path = file.path;
  const fail = (msg: string): never => {
    throw new WeightFileError(path, msg);
  };
  if (file.size < EOCD_MIN) fail(`not a zip archive: ${file.size} bytes is too short (truncated?)`);
  const tailLen = Math.min(file.size, EOCD_MIN + MAX_COMMENT);
  const tailStart = file.size - tailLen;
  const tail = file.read(tailStart, tailLen);
  const tv = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  let eocd = -1;
  for (let i = tailLen - EOCD_MIN; i >= 0; i--) {
    if (tv.getUint32(i, true) === SIG_EOCD && i + EOCD_MIN + tv.getUint16(i + 20, true) <= tailLen) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) fail('end-of-central-directory record not found: the zip archive is truncated or corrupt');
  let count = tv.getUint16(eocd + 10, true);
  let cdSize = tv.getUint32(eocd + 12, true);
  let cdOffset = tv.getUint32(eocd + 16, true);
  const eocdAbs = tailStart + eocd;
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    // ZIP64: the locator sits right before the classic record and points at the 64-bit record.
    if (eocdAbs < 20) fail('ZIP64 end-of-central-directory locator is missing (corrupt)');
    const loc = file.read(eocdAbs - 20, 20);
    const lv = new DataView(loc.buffer, loc.byteOffset, 20);
    if (lv.getUint32(0, true) !== SIG_ZIP64_LOCATOR) fail('ZIP64 end-of-central-directory locator is missing (corrupt)');
    const recOffset = u64(lv, 8, path);
    if (recOffset + 56 > file.size) fail('ZIP64 end-of-central-directory record lies past the end of the file (truncated or corrupt)');
    const rec = file.read(recOffset, 56);
    const rv = new DataView(rec.buffer, rec.byteOffset, 56);
    if (rv.getUint32(0, true) !== SIG_ZIP64_EOCD) fail('ZIP64 end-of-central-directory record has a bad signature (corrupt)');
    count = u64(rv, 32, path);
    cdSize = u64(rv, 40, path);
    cdOffset = u64(rv, 48, path);
  }
  if (cdSize > MAX_CENTRAL_DIR_BYTES) fail(`central directory size ${cdSize} is implausibly large (corrupt)`);
  if (cdOffset + cdSize > file.size) fail(`central directory (${cdSize} bytes at ${cdOffset}) runs past the end of the file (${file.size} bytes): truncated or corrupt`);
  const cd = file.read(cdOffset, cdSize);
  const cv = new DataView(cd.buffer, cd.byteOffset, cd.byteLength);
  const utf8 = new TextDecoder('utf-8');
  const entries: ZipEntry[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cdSize || cv.getUint32(p, true) !== SIG_CENTRAL) fail(`central directory entry ${i} has a bad signature or lies outside the directory (corrupt)`);
    const flags = cv.getUint16(p + 8, true);
    const method = cv.getUint16(p + 10, true);
    const crc = cv.getUint32(p + 16, true);
    let csize = cv.getUint32(p + 20, true);
    let usize = cv.getUint32(p + 24, true);
    const nameLen = cv.getUint16(p + 28, true);
    const extraLen = cv.getUint16(p + 30, true);
    const commentLen = cv.getUint16(p + 32, true);
    let localOffset = cv.getUint32(p + 42, true);
    const end = p + 46 + nameLen + extraLen + commentLen;
    if (end > cdSize) fail(`central directory entry ${i} runs past the end of the directory (corrupt)`);
    const name = utf8.decode(cd.subarray(p + 46, p + 46 + nameLen));
    // ZIP64 extended information: only the fields saturated in the fixed part are present, in this order.
    let q = p + 46 + nameLen;
    const extraEnd = q + extraLen;
    while (q + 4 <= extraEnd) {
      const id = cv.getUint16(q, true);
      const len = cv.getUint16(q + 2, true);
      if (q + 4 + len > extraEnd) fail(`central directory entry "${name}" has a malformed extra field (corrupt)`);
      if (id === 0x0001) {
        let r = q + 4;
        const take = (): number => {
          if (r + 8 > q + 4 + len) fail(`central directory entry "${name}" has a short ZIP64 extra field (corrupt)`);
          const v = u64(cv, r, path);
          r += 8;
          return v;
        };
        if (usize === 0xffffffff) usize = take();
        if (csize === 0xffffffff) csize = take();
        if (localOffset === 0xffffffff) localOffset = take();
      }
      q += 4 + len;
    }
    if (flags & 0x1) fail(`zip entry "${name}" is encrypted`);
    if (method !== 0 && method !== 8) fail(`zip entry "${name}" uses compression method ${method}; only stored (0) and deflate (8) are supported`);
    if (method === 0 && csize !== usize) fail(`stored zip entry "${name}" has different compressed (${csize}) and uncompressed (${usize}) sizes (corrupt)`);
    if (localOffset + 30 + csize > file.size) fail(`zip entry "${name}" (${csize} bytes at ${localOffset}) lies past the end of the file: truncated or corrupt`);
    entries.push({ name, method, compressedSize: csize, size: usize, crc32: crc, localHeaderOffset: localOffset });
    p = end;
  }
  return entries;
}

function u64(v: DataView, at: number, path: string): number {
  const x = v.getBigUint64(at, true);
  if (x > BigInt(Number.MAX_SAFE_INTEGER)) throw new WeightFileError(path, `64-bit zip field ${x} is too large (corrupt)`);
  return Number(x);
}
