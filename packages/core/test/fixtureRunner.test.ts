import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareArrays, encodeSafetensors, formatParityLine, runFixture, type ParityKinds } from '@stablesr/core';

const made: string[] = [];
test.after.always(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** A synthetic fixture: y = 2·x, with a stepwise output. */
function makeFixture(kind = 'double'): string {
  const dir = mkdtempSync(join(tmpdir(), 'stablesr-fx-'));
  made.push(dir);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'io.safetensors'), encodeSafetensors({
    x: { shape: [1, 2, 1, 2], data: Float32Array.from([1, 2, 3, 4]) },
    y: { shape: [1, 2, 1, 2], data: Float32Array.from([2, 4, 6, 8]) },
    ids: { shape: [2], data: Int32Array.from([5, 6]) },
  }));
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({
    format: 1, name: 'synthetic', kind, config: {}, weights: [],
    inputs: { x: { key: 'x', dtype: 'float32', shape: [1, 2, 1, 2] } },
    outputs: {
      y: { key: 'y', dtype: 'float32', shape: [1, 2, 1, 2], atol: 1e-3, rtol: 0, atol_stepwise: 1e-6 },
      ids: { key: 'ids', dtype: 'int32', shape: [2], atol: 0, rtol: 0 },
    },
  }));
  return dir;
}

test('compareArrays follows numpy allclose semantics', (t) => {
  t.true(compareArrays([1.001], [1], 0, 1e-3).pass);
  t.false(compareArrays([1.0011], [1], 0, 1e-3).pass);
  t.true(compareArrays([0.5], [0.4], 0.1, 0).pass);
  const c = compareArrays([1, 2, NaN], [1, 2, 3], 1, 1);
  t.false(c.pass);
  t.regex(c.problem!, /NaN at element 2/);
  t.regex(compareArrays([1, 2], [1, 2], 0, 0, [2], [1, 2]).problem!, /shape/);
});

test('runner compares free-running with atol and teacher-forced with atol_stepwise', async (t) => {
  const dir = makeFixture();
  const kinds: ParityKinds = {
    double: {
      run: async (fx) => ({ y: tf.mul(fx.input('x'), 2.0002), ids: Int32Array.from([5, 6]) }),
      stepwise: async (fx) => ({ y: tf.mul(fx.input('x'), 2.0005) }),
    },
  };
  const lines = await runFixture(dir, kinds);
  const byMode = lines.map((l) => `${l.output}:${l.mode}:${l.comparison.pass}`);
  t.deepEqual(byMode, ['y:free:true', 'ids:free:true', 'y:stepwise:false']);
  t.regex(formatParityLine(lines[2]!), /^FAIL synthetic y \[stepwise\]  max_abs_err 2\.000e-3  allowed 1\.000e-6/);
});

test('runner fails outputs a kind does not produce, and integer outputs must match exactly', async (t) => {
  const dir = makeFixture();
  const kinds: ParityKinds = { double: { run: async () => ({ ids: Int32Array.from([5, 7]) }) } };
  const lines = await runFixture(dir, kinds);
  t.deepEqual(lines.map((l) => [l.output, l.comparison.pass, l.comparison.problem]), [['y', false, 'not produced'], ['ids', false, undefined]]);
});

test('an unknown kind is an error that names it and the known kinds', async (t) => {
  const dir = makeFixture('mystery');
  await t.throwsAsync(() => runFixture(dir, { double: { run: async () => ({}) } }), { message: /fixture kind "mystery" is not implemented \(implemented kinds: double\)/ });
});

test.serial('runner disposes what kinds return', async (t) => {
  const dir = makeFixture();
  const kinds: ParityKinds = { double: { run: async (fx) => { const x = fx.input('x'); const y = tf.mul(x, 2); x.dispose(); return { y, ids: Int32Array.from([5, 6]) }; } } };
  await runFixture(dir, kinds);
  const before = tf.memory().numTensors;
  await runFixture(dir, kinds);
  t.is(tf.memory().numTensors, before);
});
