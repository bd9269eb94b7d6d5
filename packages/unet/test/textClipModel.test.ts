// HF CLIPTextModel checked against the OpenCLIP tower (itself checked by the `text.encode` fixture) on the same
// random weights converted to HF's key layout, the way diffusers converts SD 2.x text encoders.
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { type AttentionOptions, type Ops, type TensorEntry, type TensorSource, moveWeightsToHost, tfjsOps, weightsFromSource } from '@stablesr/core';
import {
  type ClipTextConfig,
  type OpenClipTextCfg,
  clipTextForward,
  clipTextModelForwardOps,
  disposeClipTextModel,
  disposeFrozenOpenClipEmbedder,
  frozenOpenClipEncode,
  loadClipTextModel,
  loadFrozenOpenClipEmbedder,
  openClipTextForwardOps,
} from '../src/text/index.js';

type State = Map<string, { shape: number[]; data: Float32Array }>;

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function memoryWeights(state: State) {
  const entries = new Map<string, TensorEntry>();
  for (const [name, t] of state) entries.set(name, { name, dtype: 'F32', shape: t.shape, read: () => t.data.slice() });
  const source: TensorSource = { origin: 'memory', metadata: {}, entries: () => entries, close: () => {} };
  return weightsFromSource(source);
}

const cfg: OpenClipTextCfg = { context_length: 8, vocab_size: 50, width: 16, heads: 2, layers: 3 };

/** Random open_clip text-tower state (`model.*`), initialised like the fixtures (README §3). */
function openClipState(seed: number): State {
  const rnd = mulberry32(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  const s: State = new Map();
  const add = (name: string, shape: number[], kind: 'w' | 'norm' | 'bias') => {
    const n = shape.reduce((a, b) => a * b, 1);
    const fan = shape.slice(1).reduce((a, b) => a * b, 1);
    const data = Float32Array.from({ length: n }, () => (kind === 'bias' ? 0.1 * normal() : kind === 'norm' ? 1 + 0.1 * normal() : normal() / Math.sqrt(fan)));
    s.set(name, { shape, data });
  };
  const W = cfg.width;
  add('model.token_embedding.weight', [cfg.vocab_size, W], 'w');
  add('model.positional_embedding', [cfg.context_length, W], 'w');
  for (let i = 0; i < cfg.layers; i++) {
    const p = `model.transformer.resblocks.${i}.`;
    for (const ln of ['ln_1', 'ln_2']) {
      add(`${p}${ln}.weight`, [W], 'norm');
      add(`${p}${ln}.bias`, [W], 'bias');
    }
    add(`${p}attn.in_proj_weight`, [3 * W, W], 'w');
    add(`${p}attn.in_proj_bias`, [3 * W], 'bias');
    add(`${p}attn.out_proj.weight`, [W, W], 'w');
    add(`${p}attn.out_proj.bias`, [W], 'bias');
    add(`${p}mlp.c_fc.weight`, [4 * W, W], 'w');
    add(`${p}mlp.c_fc.bias`, [4 * W], 'bias');
    add(`${p}mlp.c_proj.weight`, [W, 4 * W], 'w');
    add(`${p}mlp.c_proj.bias`, [W], 'bias');
  }
  add('model.ln_final.weight', [W], 'norm');
  add('model.ln_final.bias', [W], 'bias');
  add('model.text_projection', [W, W], 'w');
  s.set('model.logit_scale', { shape: [], data: Float32Array.of(Math.log(1 / 0.07)) });
  return s;
}

/** The same tensors under HF `CLIPTextModel` names (`in_proj` split into q/k/v), keeping the first `layers` blocks. */
function toHf(oc: State, layers: number): State {
  const hf: State = new Map();
  const W = cfg.width;
  const get = (k: string) => oc.get(k)!;
  hf.set('text_model.embeddings.token_embedding.weight', get('model.token_embedding.weight'));
  hf.set('text_model.embeddings.position_embedding.weight', get('model.positional_embedding'));
  hf.set('text_model.embeddings.position_ids', { shape: [1, cfg.context_length], data: Float32Array.from({ length: cfg.context_length }, (_, i) => i) });
  for (let i = 0; i < layers; i++) {
    const p = `model.transformer.resblocks.${i}.`;
    const q = `text_model.encoder.layers.${i}.`;
    const w = get(`${p}attn.in_proj_weight`).data;
    const b = get(`${p}attn.in_proj_bias`).data;
    ['q', 'k', 'v'].forEach((n, j) => {
      hf.set(`${q}self_attn.${n}_proj.weight`, { shape: [W, W], data: w.slice(j * W * W, (j + 1) * W * W) });
      hf.set(`${q}self_attn.${n}_proj.bias`, { shape: [W], data: b.slice(j * W, (j + 1) * W) });
    });
    const rename: [string, string][] = [['attn.out_proj', 'self_attn.out_proj'], ['ln_1', 'layer_norm1'], ['ln_2', 'layer_norm2'], ['mlp.c_fc', 'mlp.fc1'], ['mlp.c_proj', 'mlp.fc2']];
    for (const [from, to] of rename) for (const s of ['weight', 'bias']) hf.set(`${q}${to}.${s}`, get(`${p}${from}.${s}`));
  }
  hf.set('text_model.final_layer_norm.weight', get('model.ln_final.weight'));
  hf.set('text_model.final_layer_norm.bias', get('model.ln_final.bias'));
  return hf;
}

function hfConfig(layers: number, act: string): ClipTextConfig {
  return { vocab_size: cfg.vocab_size, hidden_size: cfg.width, intermediate_size: 4 * cfg.width, num_hidden_layers: layers, num_attention_heads: cfg.heads, max_position_embeddings: cfg.context_length, hidden_act: act };
}

const ids = (rows: number[][]) => tf.tensor2d(rows, [rows.length, rows[0]!.length], 'int32');
const ROWS = [
  [49 % cfg.vocab_size, 3, 17, 4, 48, 0, 0, 0],
  [48, 1, 2, 3, 4, 5, 6, 49],
];

/** tfjsOps keeps one causal mask per sequence length, shared by every tower: make it before counting tensors. */
function warmCausalMask(n: number): void {
  tf.tidy(() => {
    const v = tf.zeros([1, n, 2]);
    tfjsOps.attention(v, v, v, { heads: 1, scale: 1, causal: true });
  });
}

async function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): Promise<number> {
  const d = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))));
  const v = (await d.data())[0]!;
  d.dispose();
  return v;
}

/** Runs open_clip (layer, activation) and HF (layers, hidden_act) on the same ids; returns max |Δ|. */
async function compare(layer: 'last' | 'penultimate', quick: boolean, hfLayers: number, hfAct: string): Promise<number> {
  const oc = openClipState(7);
  const ocw = memoryWeights(oc);
  const hfw = memoryWeights(toHf(oc, hfLayers));
  const a = loadFrozenOpenClipEmbedder({ text_cfg: cfg, layer, quick_gelu: quick }, ocw);
  const b = loadClipTextModel(hfConfig(hfLayers, hfAct), hfw);
  const x = ids(ROWS);
  const za = frozenOpenClipEncode(a, x);
  const zb = clipTextForward(b, x);
  const d = await maxAbsDiff(za, zb);
  tf.dispose([x, za, zb]);
  disposeFrozenOpenClipEmbedder(a);
  disposeClipTextModel(b);
  return d;
}

test.serial('HF CLIP (gelu) equals the OpenCLIP tower on converted weights, last layer', async (t) => {
  t.true((await compare('last', false, 3, 'gelu')) < 1e-5);
});

test.serial('HF CLIP with the last layer removed equals OpenCLIP "penultimate" (diffusers SD 2.x conversion)', async (t) => {
  t.true((await compare('penultimate', false, 2, 'gelu')) < 1e-5);
});

test.serial('quick_gelu on both sides agrees; mismatched activations do not', async (t) => {
  t.true((await compare('last', true, 3, 'quick_gelu')) < 1e-5);
  t.true((await compare('last', true, 3, 'gelu')) > 1e-3);
  t.true((await compare('last', false, 2, 'gelu')) > 1e-3, 'penultimate vs last must differ');
});

test.serial('hidden_states: index 0 is the embedding sum; index -1 plus final_layer_norm is last_hidden_state', async (t) => {
  const oc = openClipState(11);
  const hfw = memoryWeights(toHf(oc, 3));
  const h0 = loadClipTextModel(hfConfig(3, 'quick_gelu'), hfw, { layer: 'hidden', layer_idx: 0 });
  const hLast = loadClipTextModel(hfConfig(3, 'quick_gelu'), hfw, { layer: 'hidden', layer_idx: -1 });
  const last = loadClipTextModel(hfConfig(3, 'quick_gelu'), hfw);
  const x = ids([ROWS[0]!.slice(0, 5)]); // shorter than max_position_embeddings
  const e = h0.text_model.embeddings;
  const expected0 = tf.tidy(() => tf.add(tf.gather(e.token_embedding.weight, x), tf.slice(e.position_embedding.weight, [0, 0], [5, cfg.width])));
  const z0 = clipTextForward(h0, x);
  const zh = clipTextForward(hLast, x);
  const zl = clipTextForward(last, x);
  const normed = tf.tidy(() => {
    const ln = last.text_model.final_layer_norm!;
    const mean = tf.mean(zh, -1, true);
    const c = tf.sub(zh, mean);
    return tf.add(tf.mul(tf.mul(c, tf.rsqrt(tf.add(tf.mean(tf.square(c), -1, true), 1e-5))), ln.gamma), ln.beta);
  });
  t.is(await maxAbsDiff(z0, expected0), 0);
  t.true((await maxAbsDiff(normed, zl)) < 1e-5);
  t.true((await maxAbsDiff(zh, zl)) > 1e-2);
  tf.dispose([x, expected0, z0, zh, zl, normed]);
  [h0, hLast, last].forEach(disposeClipTextModel);
});

test.serial('attention is causal: a token changes only its own and later positions', async (t) => {
  const hfw = memoryWeights(toHf(openClipState(3), 3));
  const m = loadClipTextModel(hfConfig(3, 'gelu'), hfw);
  const a = ids([[1, 2, 3, 4, 5, 6, 7, 8]]);
  const b = ids([[1, 2, 3, 4, 9, 6, 7, 8]]);
  const za = clipTextForward(m, a);
  const zb = clipTextForward(m, b);
  const part = (z: tf.Tensor3D, from: number, n: number) => tf.slice(z, [0, from, 0], [1, n, cfg.width]);
  const [a0, b0, a1, b1] = [part(za, 0, 4), part(zb, 0, 4), part(za, 4, 4), part(zb, 4, 4)];
  const before = await maxAbsDiff(a0, b0);
  const after = await maxAbsDiff(a1, b1);
  tf.dispose([a0, b0, a1, b1]);
  t.is(before, 0);
  t.true(after > 1e-3);
  tf.dispose([a, b, za, zb]);
  disposeClipTextModel(m);
});

test.serial('strict loading: unexpected and missing keys are errors naming the key', (t) => {
  const hf = toHf(openClipState(5), 3);
  hf.set('text_model.encoder.layers.0.self_attn.extra.weight', { shape: [1], data: Float32Array.of(1) });
  t.throws(() => loadClipTextModel(hfConfig(3, 'gelu'), memoryWeights(hf)), { message: /text_model\.encoder\.layers\.0\.self_attn\.extra\.weight/ });
  const missing = toHf(openClipState(5), 3);
  missing.delete('text_model.encoder.layers.1.mlp.fc2.bias');
  t.throws(() => loadClipTextModel(hfConfig(3, 'gelu'), memoryWeights(missing)), { message: /text_model\.encoder\.layers\.1\.mlp\.fc2\.bias/ });
  t.throws(() => loadClipTextModel(hfConfig(3, 'gelu_new'), memoryWeights(toHf(openClipState(5), 3))), { message: /hidden_act/ });
  // A 2-layer config on a 3-layer checkpoint: layer 2 is unexpected.
  t.throws(() => loadClipTextModel(hfConfig(2, 'gelu'), memoryWeights(toHf(openClipState(5), 3))), { message: /encoder\.layers\.2\./ });
});

test.serial('no tensor leak across repeated forwards; dispose releases every weight', async (t) => {
  warmCausalMask(ROWS[0]!.length);
  const before = tf.memory().numTensors;
  const m = loadClipTextModel(hfConfig(3, 'quick_gelu'), memoryWeights(toHf(openClipState(9), 3)));
  const x = ids(ROWS);
  tf.dispose(clipTextForward(m, x));
  const mid = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) tf.dispose(clipTextForward(m, x));
  t.is(tf.memory().numTensors, mid);
  x.dispose();
  disposeClipTextModel(m);
  t.is(tf.memory().numTensors, before);
});

/**
 * An engine whose values are opaque boxes around tfjsOps' tensors: a forward that touched a value with anything
 * but an {@link Ops} method (tf.*, .shape, .dataSync, reshape) would throw or compute garbage. Records each call.
 */
class Box {
  readonly #t: tf.Tensor;
  constructor(t: tf.Tensor) {
    this.#t = t;
  }
  static unbox(b: Box): tf.Tensor {
    return b.#t;
  }
}

interface Recorded {
  op: string;
  weightShapes: number[][];
  attention: AttentionOptions[];
}

function opaqueOps(): { ops: Ops<Box>; rec: Recorded[] } {
  const rec: Recorded[] = [];
  const base = tfjsOps as unknown as Record<string, unknown>;
  const un = (v: unknown): unknown => (v instanceof Box ? Box.unbox(v) : Array.isArray(v) ? v.map(un) : v);
  const box = (v: unknown): unknown => (v instanceof tf.Tensor ? new Box(v) : Array.isArray(v) ? v.map(box) : v);
  const ops = { engine: 'onnx' } as Record<string, unknown>;
  for (const [name, f] of Object.entries(base)) {
    if (typeof f !== 'function') continue;
    ops[name] = (...args: unknown[]) => {
      const r: Recorded = { op: name, weightShapes: [], attention: [] };
      rec.push(r);
      if (name === 'weight' || name === 'embedding') r.weightShapes.push((args[0] as tf.Tensor).shape);
      if (name === 'attention') r.attention.push(args[3] as AttentionOptions);
      if (name === 'scope') {
        const [fn, module] = args as [() => unknown, object | undefined];
        return box((f as (fn: () => unknown, m?: object) => unknown)(() => un(fn()), module));
      }
      // Weights and modules (tf tensors, plain objects) pass through; values are unboxed.
      return box((f as (...a: unknown[]) => unknown)(...args.map(un)));
    };
  }
  return { ops: ops as unknown as Ops<Box>, rec };
}

test.serial('generic forwards use only Ops: an opaque engine gives the wrappers\' results with whole tables and causal attention', async (t) => {
  const oc = openClipState(13);
  const a = loadFrozenOpenClipEmbedder({ text_cfg: cfg, layer: 'penultimate' }, memoryWeights(oc));
  const b = loadClipTextModel(hfConfig(3, 'quick_gelu'), memoryWeights(toHf(oc, 3)));
  const x = ids(ROWS);
  for (const [name, generic, wrapper] of [
    ['open_clip', (o: Ops<Box>, v: Box) => openClipTextForwardOps(o, a, v), () => frozenOpenClipEncode(a, x)],
    ['hf_clip', (o: Ops<Box>, v: Box) => clipTextModelForwardOps(o, b, v), () => clipTextForward(b, x)],
  ] as const) {
    const { ops, rec } = opaqueOps();
    const z = Box.unbox(generic(ops, new Box(x)));
    const want = wrapper();
    t.deepEqual(z.shape, [ROWS.length, cfg.context_length, cfg.width], name);
    t.is(await maxAbsDiff(z, want), 0, name);
    const used = new Set(rec.map((r) => r.op));
    t.deepEqual([...used].sort(), ['add', 'attention', 'embedding', name === 'open_clip' ? 'gelu' : 'quickGelu', 'layerNorm', 'linear', 'release', 'scope', 'shape', 'weight'].sort(), name);
    t.deepEqual(rec.flatMap((r) => (r.op === 'weight' ? r.weightShapes : [])), [[cfg.context_length, cfg.width]], `${name}: the position table, whole`);
    const att = rec.flatMap((r) => r.attention);
    t.is(att.length, name === 'open_clip' ? cfg.layers - 1 : cfg.layers, name);
    for (const o of att) t.like(o, { heads: cfg.heads, causal: true, scale: 1 / Math.sqrt(cfg.width / cfg.heads) });
    tf.dispose([z, want]);
  }
  x.dispose();
  disposeFrozenOpenClipEmbedder(a);
  disposeClipTextModel(b);
});

test.serial('generic forwards with tfjsOps leak no tensors across two calls', (t) => {
  const oc = openClipState(17);
  const a = loadFrozenOpenClipEmbedder({ text_cfg: cfg, layer: 'last' }, memoryWeights(oc));
  const b = loadClipTextModel(hfConfig(3, 'gelu'), memoryWeights(toHf(oc, 3)), { layer: 'hidden', layer_idx: -2 });
  const x = ids(ROWS);
  warmCausalMask(cfg.context_length);
  for (const run of [() => openClipTextForwardOps(tfjsOps, a, x), () => clipTextModelForwardOps(tfjsOps, b, x)]) {
    const before = tf.memory().numTensors;
    const z1 = run();
    t.is(tf.memory().numTensors, before + 1, 'one call leaves only its output');
    const z2 = run();
    t.is(tf.memory().numTensors, before + 2);
    tf.dispose([z1, z2]);
    t.is(tf.memory().numTensors, before);
  }
  x.dispose();
  disposeFrozenOpenClipEmbedder(a);
  disposeClipTextModel(b);
});

test.serial('generic forwards need rows of the position table\'s length; the tfjs HF wrapper also takes shorter rows', (t) => {
  const oc = openClipState(19);
  const a = loadFrozenOpenClipEmbedder({ text_cfg: cfg }, memoryWeights(oc));
  const b = loadClipTextModel(hfConfig(3, 'gelu'), memoryWeights(toHf(oc, 3)));
  const short = ids([ROWS[0]!.slice(0, 5)]);
  warmCausalMask(5);
  const before = tf.memory().numTensors;
  t.throws(() => clipTextModelForwardOps(tfjsOps, b, short), { message: /rows of 5 ids, the position table has 8/ });
  t.throws(() => openClipTextForwardOps(tfjsOps, a, short), { message: /5 ids, the tower's context_length is 8/ });
  t.throws(() => frozenOpenClipEncode(a, tf.tensor2d([ROWS[0]!], [1, 8], 'float32')), { message: /int32/ });
  t.is(tf.memory().numTensors, before + 1, 'only the float ids made above');
  tf.dispose(clipTextForward(b, short));
  t.is(tf.memory().numTensors, before + 1, 'the shortened position table is freed with the call');
  short.dispose();
  disposeFrozenOpenClipEmbedder(a);
  disposeClipTextModel(b);
});

test.serial('host-held weights are uploaded by the forwards\' scope, for full and shorter rows alike', async (t) => {
  const oc = openClipState(23);
  const hfw = toHf(oc, 3);
  const ref = loadClipTextModel(hfConfig(3, 'gelu'), memoryWeights(hfw));
  const host = loadClipTextModel(hfConfig(3, 'gelu'), memoryWeights(hfw));
  const ocRef = loadFrozenOpenClipEmbedder({ text_cfg: cfg, layer: 'penultimate' }, memoryWeights(oc));
  const ocHost = loadFrozenOpenClipEmbedder({ text_cfg: cfg, layer: 'penultimate' }, memoryWeights(oc));
  moveWeightsToHost(host);
  moveWeightsToHost(ocHost);
  const rows = [ROWS, [ROWS[1]!.slice(0, 6)]];
  for (const r of rows) warmCausalMask(r[0]!.length);
  const before = tf.memory().numTensors;
  for (const x of rows.map(ids)) {
    const [za, zb] = [clipTextForward(ref, x), clipTextForward(host, x)];
    t.is(await maxAbsDiff(za, zb), 0);
    tf.dispose([x, za, zb]);
  }
  const x = ids(ROWS);
  const [za, zb] = [frozenOpenClipEncode(ocRef, x), frozenOpenClipEncode(ocHost, x)];
  t.is(await maxAbsDiff(za, zb), 0);
  tf.dispose([x, za, zb]);
  t.is(tf.memory().numTensors, before, 'uploads are freed after each call');
  [ref, host].forEach(disposeClipTextModel);
  [ocRef, ocHost].forEach(disposeFrozenOpenClipEmbedder);
});
