import test from 'ava';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AbortError, convertWeights, encodeSafetensors, openSafetensors, openTensorSource } from '@stablesr/core';
// The CLI commands are thin wrappers over core; they are exercised here with the data they convert.
import { convertCommand } from '../src/commands/convert.js';
import { formatInspect, inspectWeights } from '../src/commands/inspect.js';
import { assertTensors, dataPath, type ExpectedTensor, expectedFor } from '../../core/test/weightTestData.js';

const dir = mkdtempSync(join(tmpdir(), 'stablesr-convert-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

for (const file of ['fp32.ckpt', 'bf16.pth', 'views.pt', 'lightning.ckpt', 'halves.safetensors']) {
  test(`${file} → safetensors keeps keys, dtypes and values exactly`, async (t) => {
    const out = join(dir, `${file}.safetensors`);
    const want = expectedFor(file);
    const r = await convertWeights(dataPath(file), out);
    t.is(r.tensors, Object.keys(want.tensors).length);
    const src = openSafetensors(out);
    assertTensors(t, src, want.tensors);
    t.deepEqual(src.metadata, { ...(want.metadata ?? {}), format: 'pt' });
    src.close();
  });
}

test('--fp16 turns every floating tensor into F16 and copies integers unchanged', async (t) => {
  const out = join(dir, 'fp16.safetensors');
  const events: number[] = [];
  const r = await convertWeights(dataPath('bf16.pth'), out, { fp16: true, onProgress: (e) => events.push(e.done) });
  const want = expectedFor('bf16.pth').tensors;
  t.deepEqual(r.dtypes, { F16: 8, I64: 1 });
  t.deepEqual(events, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const src = openSafetensors(out);
  // The test values are multiples of 1/64, exact in F16: the conversion must not move them.
  const asF16 = Object.fromEntries(Object.entries(want).map(([k, v]) => [k, { ...v, dtype: v.dtype === 'BF16' ? 'F16' : v.dtype }]));
  assertTensors(t, src, asF16);
  src.close();
});

test('raw bytes survive: F64, I64 beyond int32, non-contiguous views', async (t) => {
  const out = join(dir, 'dtypes.safetensors');
  await convertWeights(dataPath('dtypes.pt'), out);
  const a = openTensorSource(dataPath('dtypes.pt'));
  const b = openSafetensors(out);
  t.deepEqual([...b.entries().keys()], [...a.entries().keys()]);
  for (const [k, e] of a.entries()) {
    const c = b.entries().get(k)!;
    t.is(c.dtype, e.dtype, k);
    t.deepEqual([...c.shape], [...e.shape], k);
    t.deepEqual(c.readRaw!(), e.readRaw!(), k);
  }
  a.close();
  b.close();
});

test('diffusers folder converts with component prefixes', async (t) => {
  const out = join(dir, 'tiny.safetensors');
  await convertWeights(dataPath('diffusers_tiny'), out);
  const src = openSafetensors(out);
  const want = expectedFor('diffusers_tiny').tensors;
  t.deepEqual([...src.entries().keys()].sort(), Object.keys(want).sort());
  for (const [k, v] of Object.entries(want)) t.deepEqual([...src.entries().get(k)!.read()], v.values, k);
  src.close();
});

test('an F16 overflow fails naming the key and leaves no output behind', async (t) => {
  const input = join(dir, 'wide.safetensors');
  writeFileSync(input, encodeSafetensors({ ok: { shape: [1], data: Float32Array.from([1]) }, wide: { shape: [2], data: Float32Array.from([1, 1e6]) } }));
  const out = join(dir, 'wide-fp16.safetensors');
  await t.throwsAsync(convertWeights(input, out, { fp16: true }), { message: /wide\.safetensors \[wide\].*1000000.*overflows float16/ });
  t.false(existsSync(out));
  t.deepEqual(readdirSync(dir).filter((f) => f.includes('wide-fp16')), []);
});

test('an aborted conversion leaves no output behind', async (t) => {
  const out = join(dir, 'aborted.safetensors');
  const ctl = new AbortController();
  await t.throwsAsync(convertWeights(dataPath('fp32.ckpt'), out, { signal: ctl.signal, onProgress: (e) => e.done === 2 && ctl.abort(new AbortError()) }), { instanceOf: AbortError });
  t.false(existsSync(out));
});

test('CLI inspect lists every format, CLI convert round-trips through inspect', async (t) => {
  const lightning = inspectWeights(dataPath('lightning.ckpt'));
  const want = expectedFor('lightning.ckpt').tensors;
  t.is(lightning.keys, Object.keys(want).length);
  t.deepEqual(lightning.dtypes, { F32: 8, I64: 1 });
  t.is(lightning.parameters, Object.values(want).filter((v) => v.dtype === 'F32').reduce((s, v) => s + v.values.length, 0));
  t.true(formatInspect(lightning).some((l) => l.includes('epoch=3') && l.includes('global_step=10')));
  const tiny = inspectWeights(dataPath('diffusers_tiny'));
  t.true(tiny.tensors.some((x) => x.name === 'text_encoder.text_model.final_layer_norm.weight' && x.dtype === 'F32'));
  t.throws(() => inspectWeights(dataPath('hostile_posix.ckpt')), { message: /posix\.system/ });

  const out = join(dir, 'cli.safetensors');
  const lines: string[] = [];
  const code = await convertCommand([dataPath('views.pt'), out, '--fp16'], { out: (s) => lines.push(s), err: (s) => lines.push(s) });
  t.is(code, 0);
  t.regex(lines.join('\n'), /cli\.safetensors: 8 tensors \(F16: 7, I64: 1\)/);
  const after = inspectWeights(out);
  const before = inspectWeights(dataPath('views.pt'));
  t.deepEqual(after.tensors.map((x) => [x.name, x.shape]).sort(), before.tensors.map((x) => [x.name, x.shape]).sort());
  const src = openSafetensors(out);
  for (const [k, v] of Object.entries(expectedFor('views.pt').tensors as Record<string, ExpectedTensor>)) t.deepEqual([...src.entries().get(k)!.read()], v.values, k);
  src.close();
  await t.throwsAsync(convertCommand([dataPath('views.pt'), join(dir, 'x.bin')], { out: () => {}, err: () => {} }), { message: /must end in \.safetensors/ });
});
