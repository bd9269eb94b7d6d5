import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { currentBackend, initBackend, parseBackendChoice } from '@stablesr/core';

test('auto picks an available backend and reports it', async (t) => {
  const info = await initBackend();
  t.true(['wasm', 'cpu', 'tensorflow', 'tensorflow-gpu'].includes(info.name));
  t.is(tf.getBackend(), info.tfBackend);
  t.is(currentBackend(), info);
  if (!process.env.STABLESR_BACKEND && info.name === 'wasm') {
    // tfjs-node is not installable here: auto must have skipped it with a reason, not crashed.
    t.true(info.skipped.some((s) => s.startsWith('tensorflow')), info.skipped.join('; '));
  }
});

test('unknown backend names are rejected with the choices listed', (t) => {
  t.throws(() => parseBackendChoice('webgl', '--backend'), { message: /--backend: unknown backend "webgl" \(choose one of auto, wasm, cpu, tensorflow, tensorflow-gpu\)/ });
});

test('forcing a backend that cannot load is an error, not a silent fallback', async (t) => {
  let hasNode = true;
  try {
    await import('@tensorflow/tfjs-node' as string);
  } catch {
    hasNode = false;
  }
  if (hasNode) {
    t.pass('tfjs-node is installed here; nothing to check');
    return;
  }
  await t.throwsAsync(() => initBackend('tensorflow'), { message: /backend tensorflow: / });
  // The previous backend stays active.
  t.truthy(tf.getBackend());
});

test('forcing cpu then wasm switches backends and results agree', async (t) => {
  const x = [0.5, -1.25, 3, 2];
  await initBackend('cpu');
  t.is(tf.getBackend(), 'cpu');
  const a = tf.tidy(() => tf.matMul(tf.tensor2d(x, [2, 2]), tf.tensor2d(x, [2, 2])).dataSync());
  await initBackend('wasm');
  t.is(tf.getBackend(), 'wasm');
  const b = tf.tidy(() => tf.matMul(tf.tensor2d(x, [2, 2]), tf.tensor2d(x, [2, 2])).dataSync());
  t.deepEqual([...a], [...b]);
  await initBackend();
});
