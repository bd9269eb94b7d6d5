import test from 'ava';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openTensorSource, openTorchCheckpoint, openWeights, RandomAccessFile, WeightFileError, ZipArchive } from '@stablesr/core';
import { assertTensors, dataPath, expectedFor, expectedRaw } from './weightTestData.js';
import { writeZip } from './zipWriter.js';

const dir = mkdtempSync(join(tmpdir(), 'stablesr-ckpt-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

function variant(name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

for (const file of ['fp32.ckpt', 'fp16.pt', 'bf16.pth', 'views.pt', 'nested.pth', 'deflate.ckpt', 'zip64.ckpt']) {
  test(`${file}: every tensor matches the values torch.save wrote`, (t) => {
    const src = openTorchCheckpoint(dataPath(file));
    assertTensors(t, src, expectedFor(file).tensors);
    src.close();
  });
}

test('Lightning checkpoint: state_dict is used, scalars become metadata, optimizer/callback/hparams objects are parsed inertly', (t) => {
  const src = openTorchCheckpoint(dataPath('lightning.ckpt'));
  const want = expectedFor('lightning.ckpt');
  assertTensors(t, src, want.tensors);
  t.deepEqual(src.metadata, want.metadata);
  src.close();
});

test('dtypes: F64/I64/I32/I16/I8/U8/BOOL, scalar and empty tensors; int64 outside int32 fails naming the key', (t) => {
  const src = openTorchCheckpoint(dataPath('dtypes.pt'));
  const want = expectedFor('dtypes.pt').tensors;
  const big = src.entries().get('big_i64')!;
  t.is(big.dtype, 'I64');
  const err = t.throws(() => big.read());
  t.regex(err!.message, /dtypes\.pt \[big_i64\].*1099511627776.*int32/);
  // The raw bytes are still exact (converters copy them losslessly).
  t.deepEqual([...new BigInt64Array(big.readRaw!().slice().buffer)], [2n ** 40n]);
  const rest = new Map([...src.entries()].filter(([k]) => k !== 'big_i64'));
  assertTensors(t, { ...src, entries: () => rest }, want);
  src.close();
});

test('non-contiguous views read through readRaw give the same row-major bytes as read()', (t) => {
  const src = openTorchCheckpoint(dataPath('views.pt'));
  for (const k of ['t', 'slice', 'step', 'expand', 'col']) {
    const e = src.entries().get(k)!;
    t.deepEqual(new Float32Array(e.readRaw!().slice().buffer), e.read() as Float32Array, k);
  }
  src.close();
});

test('openWeights picks the torch reader by content and exposes a strict weight view', (t) => {
  const w = openWeights(dataPath('lightning.ckpt'));
  const want = expectedFor('lightning.ckpt').tensors['model.fc.weight']!;
  const view = w.scope('model.');
  t.deepEqual([...view.data('fc.weight', [4, 3])], want.values);
  t.throws(() => view.get('fc.weight', [3, 4]), { instanceOf: WeightFileError, message: /model\.fc\.weight.*\[4, 3\]/ });
  w.close();
  // A zip checkpoint under an unrelated extension is still recognised by its signature.
  const renamed = join(dir, 'weights.data');
  copyFileSync(dataPath('fp32.ckpt'), renamed);
  const src = openTensorSource(renamed);
  t.is(src.entries().size, Object.keys(expectedFor('fp32.ckpt').tensors).length);
  src.close();
});

const hostile = expectedRaw<Record<string, string>>('hostile');
for (const [file, global] of Object.entries(hostile)) {
  test(`hostile pickle ${file} is refused naming ${global}`, (t) => {
    for (const open of [() => openTorchCheckpoint(dataPath(file)), () => openWeights(dataPath(file))]) {
      const err = t.throws(open, { instanceOf: WeightFileError });
      t.true(err!.message.includes(dataPath(file)), err!.message);
      t.true(err!.message.includes(`refusing global "${global}"`), err!.message);
    }
  });
}

test('a hostile global declared inert is only recorded, never called', (t) => {
  // Even when a caller whitelists it, REDUCE on os.system builds an inert record: the file then simply
  // holds no state dict.
  const err = t.throws(() => openTorchCheckpoint(dataPath('hostile_os_system.ckpt'), { inertGlobals: ['os.system'] }));
  t.regex(err!.message, /does not hold a dict of tensors/);
});

test('an unknown harmless class beside the state dict is refused by default and accepted when declared inert', (t) => {
  const err = t.throws(() => openTorchCheckpoint(dataPath('custom_global.ckpt')), { instanceOf: WeightFileError });
  t.regex(err!.message, /custom_global\.ckpt.*refusing global "__main__\.Custom".*inertGlobals/);
  const src = openTorchCheckpoint(dataPath('custom_global.ckpt'), { inertGlobals: ['__main__.*'] });
  assertTensors(t, src, expectedFor('custom_global.ckpt').tensors);
  src.close();
});

test('missing tensor data entry fails at open naming the file, key and entry', (t) => {
  const missing = expectedRaw<{ missing_entry: string }>('missing_data.ckpt').missing_entry;
  const err = t.throws(() => openTorchCheckpoint(dataPath('missing_data.ckpt')), { instanceOf: WeightFileError });
  t.true(err!.message.includes(dataPath('missing_data.ckpt')), err!.message);
  t.true(err!.message.includes('[fc.bias]') && err!.message.includes(missing), err!.message);
});

test('truncated archives fail with the file named', (t) => {
  const good = readFileSync(dataPath('fp32.ckpt'));
  for (const cut of [good.length - 5, Math.floor(good.length / 2), 40, 25]) {
    const p = variant(`trunc${cut}.ckpt`, good.subarray(0, cut));
    const err = t.throws(() => openTorchCheckpoint(p), { instanceOf: WeightFileError });
    t.true(err!.message.startsWith(p), err!.message);
    t.regex(err!.message, /truncated|too short|end-of-central-directory/);
  }
});

test('corrupted central directory, local header and pickle are detected', (t) => {
  const good = readFileSync(dataPath('fp32.ckpt'));
  const eocd = good.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const cdOffset = good.readUInt32LE(eocd + 16);

  const badSig = Buffer.from(good);
  badSig.writeUInt8(badSig.readUInt8(cdOffset + 3) ^ 0xff, cdOffset + 3);
  t.throws(() => openTorchCheckpoint(variant('badsig.ckpt', badSig)), { message: /badsig\.ckpt.*central directory entry 0 has a bad signature/ });

  const badOffset = Buffer.from(good);
  badOffset.writeUInt32LE(good.length, eocd + 16);
  t.throws(() => openTorchCheckpoint(variant('badoff.ckpt', badOffset)), { message: /badoff\.ckpt.*central directory.*runs past the end/ });

  // Point the first central entry (data.pkl) at a byte that is not a local header.
  const badLocal = Buffer.from(good);
  badLocal.writeUInt32LE(1, cdOffset + 42);
  t.throws(() => openTorchCheckpoint(variant('badlocal.ckpt', badLocal)), { message: /badlocal\.ckpt.*local header of zip entry "fp32\/data\.pkl" has a bad signature/ });

  const pklStart = good.indexOf(Buffer.from([0x80, 0x02]));
  const badPickle = Buffer.from(good);
  badPickle.writeUInt8(badPickle.readUInt8(pklStart + 40) ^ 0x5a, pklStart + 40);
  t.throws(() => openTorchCheckpoint(variant('badpkl.ckpt', badPickle)), { message: /badpkl\.ckpt.*data\.pkl.*CRC-32/ });
});

test('legacy and non-checkpoint files get precise errors', (t) => {
  t.throws(() => openTorchCheckpoint(dataPath('legacy.pt')), { message: /legacy\.pt.*legacy \(non-zip\) PyTorch serialization/ });
  t.throws(() => openTensorSource(dataPath('legacy.pt')), { message: /legacy \(non-zip\)/ });
  t.throws(() => openTensorSource(variant('text.ckpt', new TextEncoder().encode('hello world, not a checkpoint'))), { message: /text\.ckpt.*not a PyTorch zip checkpoint/ });
  t.throws(() => openTensorSource(variant('empty.pth', new Uint8Array(0))), { message: /empty\.pth.*not a PyTorch zip checkpoint/ });
  const zipNoPickle = join(dir, 'nopkl.ckpt');
  writeZip(zipNoPickle, [{ name: 'readme.txt', data: new TextEncoder().encode('hi') }]);
  t.throws(() => openTorchCheckpoint(zipNoPickle), { message: /nopkl\.ckpt.*no <name>\/data\.pkl.*readme\.txt/ });
});

// --- A 5 GB checkpoint on a sparse file: opening reads only the directory and the pickle. ---

function bigPickle(tensors: Array<{ key: string; storage: string; numel: number }>): Uint8Array {
  const b: number[] = [];
  const bytes = (...xs: number[]): void => void b.push(...xs);
  const text = (s: string): void => bytes(...Buffer.from(s, 'latin1'));
  const unicode = (s: string): void => {
    const u = Buffer.from(s, 'utf8');
    bytes(0x58, u.length & 0xff, (u.length >> 8) & 0xff, 0, 0, ...u);
  };
  const binint = (n: number): void => {
    const x = Buffer.alloc(4);
    x.writeInt32LE(n);
    bytes(0x4a, ...x);
  };
  bytes(0x80, 0x02, 0x7d, 0x28); // PROTO 2, EMPTY_DICT, MARK
  for (const { key, storage, numel } of tensors) {
    unicode(key);
    bytes(0x63), text('torch._utils\n_rebuild_tensor_v2\n');
    bytes(0x28); // MARK (args)
    bytes(0x28), unicode('storage'), bytes(0x63), text('torch\nFloatStorage\n'), unicode(storage), unicode('cpu'), binint(numel), bytes(0x74, 0x51); // TUPLE, BINPERSID
    binint(0), binint(numel), bytes(0x85), binint(1), bytes(0x85), bytes(0x89); // offset, (size,), (stride,), False
    bytes(0x63), text('collections\nOrderedDict\n'), bytes(0x29, 0x52); // OrderedDict()
    bytes(0x74, 0x52); // TUPLE, REDUCE
  }
  bytes(0x75, 0x2e); // SETITEMS, STOP
  return Uint8Array.from(b);
}

test.serial('a 5 GB ZIP64 checkpoint opens lazily in bounded memory and reads tensors past 4 GB', (t) => {
  const p = join(dir, 'big.ckpt');
  const numel = 5 * 2 ** 28; // 5 GiB of float32
  const small = new Float32Array([1.5, -2, 0.25]);
  writeZip(p, [
    { name: 'big/data.pkl', data: bigPickle([{ key: 'huge', storage: '0', numel }, { key: 'small', storage: '1', numel: 3 }]) },
    { name: 'big/data/0', size: numel * 4 },
    { name: 'big/data/1', data: new Uint8Array(small.buffer) },
    { name: 'big/version', data: new TextEncoder().encode('3\n') },
  ]);
  try {
    const rssBefore = process.memoryUsage().rss;
    const src = openTorchCheckpoint(p);
    t.deepEqual([...src.entries().get('huge')!.shape], [numel]);
    t.deepEqual([...src.entries().get('small')!.read()], [...small]);
    const zip = ZipArchive.open(new RandomAccessFile(p));
    t.true(zip.entry('big/data/1')!.localHeaderOffset > 2 ** 32);
    t.deepEqual([...zip.read('big/data/0', numel * 4 - 8, 8)], [0, 0, 0, 0, 0, 0, 0, 0]);
    zip.close();
    src.close();
    t.true(process.memoryUsage().rss - rssBefore < 256 * 2 ** 20, 'opening must not read the tensor data');
  } finally {
    rmSync(p, { force: true });
  }
  t.false(existsSync(p));
});
