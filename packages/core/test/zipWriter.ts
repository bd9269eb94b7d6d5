// Test helper: writes stored zip archives whose entries may sit beyond 4 GB or be multi-GB holes, so the
// reader's ZIP64 handling and lazy reads can be checked on sparse files without using the disk space.
import { closeSync, openSync, writeSync } from 'node:fs';
import { crc32 } from 'node:zlib';

export interface ZipInput {
  name: string;
  /** Entry bytes; omit and give `size` for an all-zero entry left as a hole in a sparse file. */
  data?: Uint8Array;
  size?: number;
}

const LIMIT32 = 0xffffffff;

export function writeZip(path: string, inputs: readonly ZipInput[], gapBefore = 0): void {
  const fd = openSync(path, 'w');
  let pos = gapBefore;
  const put = (b: Uint8Array): void => {
    let done = 0;
    while (done < b.byteLength) done += writeSync(fd, b, done, b.byteLength - done, pos + done);
    pos += b.byteLength;
  };
  const central: Uint8Array[] = [];
  try {
    for (const e of inputs) {
      const name = Buffer.from(e.name, 'utf8');
      const size = e.data ? e.data.byteLength : e.size!;
      // CRC of holes is not computed (multi-GB); the reader checks CRCs only of the pickle.
      const crc = e.data ? crc32(e.data) >>> 0 : 0;
      const offset = pos;
      const big = size >= LIMIT32;
      const local = Buffer.alloc(30 + name.length + (big ? 20 : 0));
      local.writeUInt32LE(0x04034b50, 0);
      local.writeUInt16LE(45, 4);
      local.writeUInt32LE(crc, 14);
      local.writeUInt32LE(big ? LIMIT32 : size, 18);
      local.writeUInt32LE(big ? LIMIT32 : size, 22);
      local.writeUInt16LE(name.length, 26);
      local.writeUInt16LE(big ? 20 : 0, 28);
      name.copy(local, 30);
      if (big) {
        local.writeUInt16LE(1, 30 + name.length);
        local.writeUInt16LE(16, 32 + name.length);
        local.writeBigUInt64LE(BigInt(size), 34 + name.length);
        local.writeBigUInt64LE(BigInt(size), 42 + name.length);
      }
      put(local);
      if (e.data) put(e.data);
      else pos += size;
      const z64: bigint[] = [];
      if (size >= LIMIT32) z64.push(BigInt(size), BigInt(size));
      if (offset >= LIMIT32) z64.push(BigInt(offset));
      const extraLen = z64.length ? 4 + 8 * z64.length : 0;
      const c = Buffer.alloc(46 + name.length + extraLen);
      c.writeUInt32LE(0x02014b50, 0);
      c.writeUInt16LE(45, 4);
      c.writeUInt16LE(45, 6);
      c.writeUInt32LE(crc, 16);
      c.writeUInt32LE(size >= LIMIT32 ? LIMIT32 : size, 20);
      c.writeUInt32LE(size >= LIMIT32 ? LIMIT32 : size, 24);
      c.writeUInt16LE(name.length, 28);
      c.writeUInt16LE(extraLen, 30);
      c.writeUInt32LE(offset >= LIMIT32 ? LIMIT32 : offset, 42);
      name.copy(c, 46);
      if (z64.length) {
        c.writeUInt16LE(1, 46 + name.length);
        c.writeUInt16LE(8 * z64.length, 48 + name.length);
        z64.forEach((v, i) => c.writeBigUInt64LE(v, 50 + name.length + 8 * i));
      }
      central.push(c);
    }
    const cdOffset = pos;
    for (const c of central) put(c);
    const cdSize = pos - cdOffset;
    const zip64 = cdOffset >= LIMIT32;
    if (zip64) {
      const recOffset = pos;
      const rec = Buffer.alloc(56);
      rec.writeUInt32LE(0x06064b50, 0);
      rec.writeBigUInt64LE(44n, 4);
      rec.writeUInt16LE(45, 12);
      rec.writeUInt16LE(45, 14);
      rec.writeBigUInt64LE(BigInt(inputs.length), 24);
      rec.writeBigUInt64LE(BigInt(inputs.length), 32);
      rec.writeBigUInt64LE(BigInt(cdSize), 40);
      rec.writeBigUInt64LE(BigInt(cdOffset), 48);
      put(rec);
      const loc = Buffer.alloc(20);
      loc.writeUInt32LE(0x07064b50, 0);
      loc.writeBigUInt64LE(BigInt(recOffset), 8);
      loc.writeUInt32LE(1, 16);
      put(loc);
    }
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(zip64 ? 0xffff : inputs.length, 8);
    end.writeUInt16LE(zip64 ? 0xffff : inputs.length, 10);
    end.writeUInt32LE(zip64 ? LIMIT32 : cdSize, 12);
    end.writeUInt32LE(zip64 ? LIMIT32 : cdOffset, 16);
    put(end);
  } finally {
    closeSync(fd);
  }
}
