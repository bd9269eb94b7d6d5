// OpenCLIP text tower at SD 2.x width (1024, 16 heads) on the active backend: time per block for a batch of 2
// prompts (cond + uncond), extrapolated to the 23 blocks SD 2.x runs ("penultimate" of 24). Random weights;
// 2 blocks only, to stay short. Also compares the attention formulation used (2-D matMuls per head) with one
// batched 3-D matMul. `npm run bench -- textEncoder`.
import * as tf from '@tensorflow/tfjs-core';
import { type TensorEntry, initBackend, weightsFromSource } from '@stablesr/core';
import { causalMask, causalSelfAttention } from '../src/text/causalSelfAttention.js';
import { disposeFrozenOpenClipEmbedder, frozenOpenClipEncode, loadFrozenOpenClipEmbedder, type OpenClipTextCfg } from '../src/text/openClipTextTower.js';

const info = await initBackend();
console.log(`backend ${info.name}`);

const blocks = 2;
const cfg: OpenClipTextCfg = { context_length: 77, vocab_size: 1000, width: 1024, heads: 16, layers: blocks };
const W = cfg.width;
const entries = new Map<string, TensorEntry>();
const add = (name: string, shape: number[]) => {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = Float32Array.from({ length: n }, () => (Math.random() - 0.5) / Math.sqrt(shape[1] ?? 1));
  entries.set(name, { name, dtype: 'F32', shape, read: () => data });
};
add('model.token_embedding.weight', [cfg.vocab_size, W]);
add('model.positional_embedding', [77, W]);
for (let i = 0; i < blocks; i++) {
  const p = `model.transformer.resblocks.${i}.`;
  for (const [k, s] of [['ln_1.weight', [W]], ['ln_1.bias', [W]], ['ln_2.weight', [W]], ['ln_2.bias', [W]], ['attn.in_proj_weight', [3 * W, W]], ['attn.in_proj_bias', [3 * W]],
    ['attn.out_proj.weight', [W, W]], ['attn.out_proj.bias', [W]], ['mlp.c_fc.weight', [4 * W, W]], ['mlp.c_fc.bias', [4 * W]], ['mlp.c_proj.weight', [W, 4 * W]], ['mlp.c_proj.bias', [W]]] as const) add(p + k, [...s]);
}
add('model.ln_final.weight', [W]);
add('model.ln_final.bias', [W]);
const view = weightsFromSource({ origin: 'bench', metadata: {}, entries: () => entries, close: () => {} });
const tower = loadFrozenOpenClipEmbedder({ text_cfg: cfg, layer: 'last' }, view);
const ids = tf.tensor2d(Array.from({ length: 2 * 77 }, (_, i) => i % cfg.vocab_size), [2, 77], 'int32');

function time(label: string, fn: () => tf.Tensor, reps = 3): number {
  fn().dispose();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) {
    const y = fn();
    y.dataSync();
    y.dispose();
  }
  const ms = (performance.now() - t0) / reps;
  console.log(`${label.padEnd(52)} ${ms.toFixed(1).padStart(8)} ms`);
  return ms;
}

const ms = time(`tower, ${blocks} blocks, batch 2`, () => frozenOpenClipEncode(tower, ids));
console.log(`≈ ${((ms / blocks) * 23 / 1000).toFixed(2)} s for SD 2.x's 23 blocks (embedding/ln_final included once here)`);

const x = tf.randomNormal([2, 77, W]) as tf.Tensor3D;
const mask = causalMask(77);
const r = tower.model.transformer.resblocks[0]!;
const a = { heads: cfg.heads, ...r.attn.in_proj, out: r.attn.out_proj };
time('attention: 2-D matMul per (row, head)', () => causalSelfAttention(a, x, mask));
time('attention: one batched 3-D matMul', () =>
  tf.tidy(() => {
    const d = W / cfg.heads;
    const flat = tf.reshape(x, [2 * 77, W]);
    const heads = (l: typeof a.q) => tf.reshape(tf.transpose(tf.reshape(tf.add(tf.matMul(flat, l.weight), l.bias!), [2, 77, cfg.heads, d]), [0, 2, 1, 3]), [2 * cfg.heads, 77, d]) as tf.Tensor3D;
    const q = tf.mul(heads(a.q), 1 / Math.sqrt(d));
    const p = tf.softmax(tf.add(tf.matMul(q, heads(a.k), false, true), mask));
    const o = tf.reshape(tf.transpose(tf.reshape(tf.matMul(p, heads(a.v)), [2, cfg.heads, 77, d]), [0, 2, 1, 3]), [2 * 77, W]);
    return tf.add(tf.matMul(o, a.out.weight), a.out.bias!);
  }),
);
tf.dispose([ids, x, mask]);
disposeFrozenOpenClipEmbedder(tower);
