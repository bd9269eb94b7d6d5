// Attention kernel formulations on the active backend (wasm by default): batched 3-D matMuls vs a loop of
// 2-D matMuls per head, with kᵀ via transposeB or pre-transposed. Picks the formulation used by
// core/src/nn/attention.ts `multiHeadAttention` and shows the chunked kernel's cost at U-Net sizes.
// `npm run bench -- attention` (STABLESR_BACKEND=cpu to compare backends).
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, multiHeadAttention } from '@stablesr/core';

const info = await initBackend();
console.log(`backend ${info.name}`);

function time(label: string, flops: number, fn: () => tf.Tensor, reps = 2): void {
  tf.tidy(() => fn()).dispose(); // warm-up
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) {
    const y = fn();
    y.dataSync();
    y.dispose();
  }
  const ms = (performance.now() - t0) / reps;
  console.log(`${label.padEnd(58)} ${ms.toFixed(1).padStart(8)} ms  ${(flops / ms / 1e6).toFixed(2).padStart(6)} GFLOP/s`);
}

const args = process.argv.slice(2).map(Number);
const shapes: Array<[number, number, number, number]> = [
  // [heads, Nq, Nk, dHead]
  [5, 1024, 1024, 64],
  [5, 4096, 4096, 64],
  [5, 4096, 77, 64],
];
if (args.length === 4) shapes.splice(0, shapes.length, args as [number, number, number, number]);

for (const [h, nq, nk, d] of shapes) {
  console.log(`\nheads ${h}, Nq ${nq}, Nk ${nk}, dHead ${d}`);
  const flops = 2 * 2 * h * nq * nk * d;
  const q = tf.randomNormal([h, nq, d]) as tf.Tensor3D;
  const k = tf.randomNormal([h, nk, d]) as tf.Tensor3D;
  const v = tf.randomNormal([h, nk, d]) as tf.Tensor3D;
  const scale = 1 / Math.sqrt(d);
  // The batched forms take 10–20 s at 4096² on wasm; measured at the smaller sizes only.
  if (nq * nk <= 2 ** 21) {
    time('batched 3-D matMul, transposeB', flops, () =>
      tf.tidy(() => tf.matMul(tf.softmax(tf.mul(tf.matMul(q, k, false, true), scale)), v)),
    );
    time('batched 3-D matMul, kᵀ transposed first', flops, () =>
      tf.tidy(() => tf.matMul(tf.softmax(tf.mul(tf.matMul(q, tf.transpose(k, [0, 2, 1])), scale)), v)),
    );
  }
  const qs = tf.unstack(q) as tf.Tensor2D[];
  const ks = tf.unstack(k) as tf.Tensor2D[];
  const vs = tf.unstack(v) as tf.Tensor2D[];
  time('2-D matMul per head, transposeB', flops, () =>
    tf.tidy(() => tf.stack(qs.map((qh, i) => tf.matMul(tf.softmax(tf.mul(tf.matMul(qh, ks[i]!, false, true), scale)), vs[i]!)))),
  );
  time('2-D matMul per head, kᵀ transposed first', flops, () =>
    tf.tidy(() => tf.stack(qs.map((qh, i) => tf.matMul(tf.softmax(tf.matMul(tf.mul(qh, scale), tf.transpose(ks[i]!))), vs[i]!)))),
  );
  // The library kernel on the token layout [B, N, H·d] it is called with.
  const qt = tf.reshape(tf.transpose(q, [1, 0, 2]), [1, nq, h * d]) as tf.Tensor3D;
  const kt = tf.reshape(tf.transpose(k, [1, 0, 2]), [1, nk, h * d]) as tf.Tensor3D;
  const vt = tf.reshape(tf.transpose(v, [1, 0, 2]), [1, nk, h * d]) as tf.Tensor3D;
  time('multiHeadAttention (library kernel)', flops, () => multiHeadAttention(qt, kt, vt, h));
  time('multiHeadAttention, 64 MiB score budget', flops, () => multiHeadAttention(qt, kt, vt, h, { scoreBudgetBytes: 64 * 2 ** 20 }));
  tf.dispose([q, k, v, ...qs, ...ks, ...vs, qt, kt, vt]);
}
