import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeSafetensors, openSafetensors, openWeights, WeightFileError } from '@stablesr/core';

const dir = mkdtempSync(join(tmpdir(), 'stablesr-st-'));

function writeFile(name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

test('round-trips F32, F16 and I32 tensors', (t) => {
  const p = writeFile('ok.safetensors', encodeSafetensors({
    a: { shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 0, 1e-3, 65504]) },
    h: { shape: [3], data: Float32Array.from([1, -0.5, 0.333251953125]), dtype: 'F16' },
    i: { shape: [2], data: Int32Array.from([7, -9]) },
  }, { format: 'pt' }));
  const src = openSafetensors(p);
  t.deepEqual(src.metadata, { format: 'pt' });
  t.deepEqual([...src.entries().get('a')!.read()], [1, -2, 3.5, 0, Math.fround(1e-3), 65504]);
  t.deepEqual([...src.entries().get('h')!.read()], [1, -0.5, 0.333251953125]);
  t.deepEqual([...src.entries().get('i')!.read()], [7, -9]);
  src.close();
});

test('weight view reports missing keys and wrong shapes by name', (t) => {
  const p = writeFile('view.safetensors', encodeSafetensors({ 'm.conv.weight': { shape: [2, 1, 1, 1], data: Float32Array.from([1, 2]) } }));
  const w = openWeights(p);
  const view = w.scope('m.');
  const e1 = t.throws(() => view.get('conv.bias'), { instanceOf: WeightFileError });
  t.true(e1!.message.includes('m.conv.bias') && e1!.message.includes(p));
  const e2 = t.throws(() => view.get('conv.weight', [3, 1, 1, 1]), { instanceOf: WeightFileError });
  t.true(e2!.message.includes('[2, 1, 1, 1]') && e2!.message.includes('[3, 1, 1, 1]'));
  t.deepEqual(view.unusedKeys(), ['conv.weight']);
  view.linear('conv.weight', [2, 1]).dispose();
  t.deepEqual(view.unusedKeys(), []);
  w.close();
});

test('corrupt headers are rejected with the file named', (t) => {
  const good = encodeSafetensors({ x: { shape: [4], data: new Float32Array(4) } });
  const truncated = writeFile('trunc.safetensors', good.subarray(0, good.length - 3));
  t.throws(() => openSafetensors(truncated), { message: /trunc\.safetensors.*\[x\].*outside the data area/ });
  const longHeader = good.slice();
  new DataView(longHeader.buffer).setBigUint64(0, BigInt(good.length), true);
  t.throws(() => openSafetensors(writeFile('long.safetensors', longHeader)), { message: /long\.safetensors.*past the end/ });
  const header = JSON.stringify({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } });
  const hb = new TextEncoder().encode(header);
  const overlap = new Uint8Array(8 + hb.length + 12);
  new DataView(overlap.buffer).setBigUint64(0, BigInt(hb.length), true);
  overlap.set(hb, 8);
  t.throws(() => openSafetensors(writeFile('overlap.safetensors', overlap)), { message: /overlap/ });
  const badType = new TextEncoder().encode(JSON.stringify({ a: { dtype: 'Q4', shape: [1], data_offsets: [0, 1] } }));
  const bt = new Uint8Array(8 + badType.length + 1);
  new DataView(bt.buffer).setBigUint64(0, BigInt(badType.length), true);
  bt.set(badType, 8);
  t.throws(() => openSafetensors(writeFile('dtype.safetensors', bt)), { message: /unknown dtype "Q4"/ });
  t.throws(() => openSafetensors(writeFile('tiny.safetensors', new Uint8Array(3))), { message: /shorter than/ });
});
