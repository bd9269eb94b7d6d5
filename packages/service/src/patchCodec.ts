import { type PatchOutput } from '@stablesr/stablesr';

const MAGIC = 0x31505253; // "SRP1" little-endian
const HEADER = 16;

/**
 * A patch output as bytes: a 16-byte header (magic, index, height, width as uint32 LE) and the float32 samples
 * (little-endian, NHWC `[1, h, w, 3]`), 4 bytes a value, as they left the pipeline: compact and exact.
 */
export function encodePatch(p: PatchOutput): Buffer {
  if (p.data.length !== p.height * p.width * 3) throw new Error(`encodePatch: patch ${p.index} has ${p.data.length} values, expected ${p.height}×${p.width}×3`);
  const buf = Buffer.allocUnsafe(HEADER + p.data.length * 4);
  buf.writeUInt32LE(MAGIC, 0);
  buf.writeUInt32LE(p.index, 4);
  buf.writeUInt32LE(p.height, 8);
  buf.writeUInt32LE(p.width, 12);
  for (let i = 0; i < p.data.length; i++) buf.writeFloatLE(p.data[i]!, HEADER + i * 4);
  return buf;
}

/** The inverse of {@link encodePatch}; `what` names the blob in errors. */
export function decodePatch(buf: Buffer, what: string): PatchOutput {
  if (buf.length < HEADER || buf.readUInt32LE(0) !== MAGIC) throw new Error(`${what}: not an encoded patch`);
  const index = buf.readUInt32LE(4);
  const height = buf.readUInt32LE(8);
  const width = buf.readUInt32LE(12);
  const n = height * width * 3;
  if (buf.length !== HEADER + n * 4) throw new Error(`${what}: ${buf.length} bytes, expected ${HEADER + n * 4} for a ${width}×${height} patch`);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = buf.readFloatLE(HEADER + i * 4);
  return { index, height, width, data };
}
