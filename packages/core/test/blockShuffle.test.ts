import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { type Ops, compileNetwork, resolveEngine, tfjsOps } from '@stablesr/core';

// spaceToDepth / depthToSpace against the index rule written out by hand, on both engines.

const B = 2, H = 6, W = 4, C = 3, R = 2;
const values = Float32Array.from({ length: B * H * W * C }, (_, i) => i * 0.25 - 7);

/** out[b, y, x, (i·r + j)·C + c] = in[b, y·r + i, x·r + j, c], looped directly. */
function expectedUnshuffle(): Float32Array {
  const h = H / R, w = W / R, co = C * R * R;
  const out = new Float32Array(values.length);
  for (let b = 0; b < B; b++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let i = 0; i < R; i++)
          for (let j = 0; j < R; j++)
            for (let c = 0; c < C; c++) out[((b * h + y) * w + x) * co + (i * R + j) * C + c] = values[((b * H + y * R + i) * W + x * R + j) * C + c]!;
  return out;
}

test('spaceToDepth follows the SpaceToDepth channel order and depthToSpace inverts it, on tfjs and onnxruntime', async (t) => {
  const x = tf.tensor4d(values, [B, H, W, C]);
  const def = { name: 'block shuffle', module: {}, forward: <T>(ops: Ops<T>, [v]: readonly T[]) => { const s = ops.spaceToDepth(v!, R); return [s, ops.depthToSpace(ops.scale(s, 2), R)]; } };
  for (const engine of ['tfjs', 'onnxruntime'] as const) {
    const net = compileNetwork(def, await resolveEngine({ engine, threads: 1 }));
    const [s, back] = await net.run([x]);
    t.deepEqual(s!.shape, [B, H / R, W / R, C * R * R], engine);
    t.deepEqual(Array.from(s!.dataSync()), Array.from(expectedUnshuffle()), engine);
    t.deepEqual(Array.from(back!.dataSync()), Array.from(values, (v) => 2 * v), engine);
    tf.dispose([s!, back!]);
    await net.dispose();
  }
  x.dispose();
});

test('block shuffles refuse maps that do not split into blocks, naming the op', (t) => {
  const x = tf.zeros([1, 5, 4, 3]);
  t.throws(() => tfjsOps.spaceToDepth(x, 2), { message: /spaceToDepth: a \[1,5,4,3\] map does not split into 2×2 blocks/ });
  t.throws(() => tfjsOps.depthToSpace(x, 2), { message: /depthToSpace: .*channels must be a multiple of r²/ });
  x.dispose();
});
