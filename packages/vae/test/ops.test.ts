// The autoencoder on the core op interface: featureOpsFrom(tfjsOps) (memory, host weights, numerics of the
// composed ops) and a symbolic engine that is not tfjs (the forwards use nothing but Ops<T>).
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { type AttentionOptions, type Conv2d, type Ops, type WeightView, conv2d, moveWeightsToHost, tfjsOps } from '@stablesr/core';
import {
  type AutoencoderKLConfig,
  type CfwAutoencoder,
  cfwDecode,
  cfwDecodeOps,
  cfwEncode,
  cfwEncodeOps,
  decode,
  decodeOps,
  disposeAutoencoderKL,
  disposeCfwEncodeResult,
  encodeMoments,
  encodeMomentsOps,
  featureOpsFrom,
  loadAutoencoderKL,
  loadCfwAutoencoder,
  tensorOps,
} from '../src/index.js';
import { maxDiff, randomTensor, recordKeys, syntheticWeights } from './helpers.js';

// 3 levels (f = 4): channel changes (nin_shortcut, CFW conv_out), attention at level 1 besides the mid
// block, embed_dim ≠ z_channels, one CFW fusion level (1) fed by encoder level 1.
const CONFIG: AutoencoderKLConfig = {
  embed_dim: 3,
  ddconfig: { double_z: true, z_channels: 4, resolution: 32, in_channels: 3, out_ch: 3, ch: 32, ch_mult: [1, 2, 2], num_res_blocks: 1, attn_resolutions: [16], num_fuse_block: 1 },
};

function loadCfw(seed = 7): CfwAutoencoder {
  const load = (v: WeightView) => loadCfwAutoencoder(CONFIG, v, { strict: false });
  return loadCfwAutoencoder(CONFIG, syntheticWeights(recordKeys(load, disposeAutoencoderKL), seed));
}

test.serial('featureOpsFrom(tfjsOps) forwards leak no tensors across two calls', (t) => {
  const cfw = loadCfw();
  const fops = featureOpsFrom(tfjsOps);
  const x = tf.tidy(() => tf.tanh(randomTensor([2, 32, 24, 3], 1)));
  const z = randomTensor([2, 8, 6, 3], 2);
  const feat = randomTensor([1, 16, 16, 64], 3);
  const feat32 = randomTensor([1, 16, 16, 32], 9);
  const down: Conv2d = cfw.encoder.down[0]!.downsample!.conv;
  const round = (): void => {
    encodeMomentsOps(tfjsOps, cfw, x).dispose();
    decodeOps(tfjsOps, cfw, z).dispose();
    const e = cfwEncodeOps(tfjsOps, cfw, x);
    for (const w of [0.7, 0]) cfwDecodeOps(tfjsOps, cfw, z, e.encFeatures, w).dispose();
    tf.dispose([e.moments, ...e.encFeatures]);
    // The composed ops on their own.
    fops.attention(cfw.decoder.mid.attn_1, feat).dispose();
    fops.addScaled(feat, feat, 0.2).dispose();
    fops.downsample(down, feat32).dispose();
  };
  const before = tf.memory().numTensors;
  round();
  t.is(tf.memory().numTensors, before, 'first call');
  round();
  t.is(tf.memory().numTensors, before, 'second call');
  tf.dispose([x, z, feat, feat32]);
  disposeAutoencoderKL(cfw);
});

test.serial('the generic entry points on tfjs are the tf functions; composed ops match the reference', (t) => {
  const cfw = loadCfw();
  const x = tf.tidy(() => tf.tanh(randomTensor([1, 16, 20, 3], 4)));
  const z = randomTensor([1, 4, 5, 3], 5);
  const m = encodeMomentsOps(tfjsOps, cfw, x);
  const mRef = encodeMoments(cfw, x);
  t.is(maxDiff(m, mRef).maxAbs, 0);
  t.deepEqual(m.shape, [1, 4, 5, 6]);
  const d = decodeOps(tfjsOps, cfw, z);
  const dRef = decode(cfw, z);
  t.is(maxDiff(d, dRef).maxAbs, 0);
  const e = cfwEncodeOps(tfjsOps, cfw, x);
  const eRef = cfwEncode(cfw, x);
  t.is(maxDiff(e.moments, eRef.posterior.moments).maxAbs, 0);
  t.deepEqual(
    e.encFeatures.map((f) => f.shape),
    [
      [1, 8, 10, 64],
      [1, 4, 5, 64],
    ],
  );
  const c = cfwDecodeOps(tfjsOps, cfw, z, e.encFeatures, 0.6);
  const cRef = cfwDecode(cfw, z, eRef.encFeatures, 0.6);
  t.is(maxDiff(c, cRef).maxAbs, 0);
  const c0 = cfwDecodeOps(tfjsOps, cfw, z, e.encFeatures, 0);
  t.is(maxDiff(c0, d).maxAbs, 0, 'w = 0 is the plain decoder');
  t.true(maxDiff(c, d).maxAbs > 1e-3, 'w ≠ 0 fuses the encoder features');

  // Downsample = one conv with explicit [[0, 1], [0, 1]] padding: the reference pads right/bottom, then convs.
  const conv = cfw.encoder.down[0]!.downsample!.conv;
  const h = randomTensor([2, 7, 10, 32], 6);
  const ds = tensorOps.downsample(conv, h);
  const dsRef = tf.tidy(() => conv2d({ ...conv, stride: 2, padding: 0 }, tf.pad(h, [[0, 0], [0, 1], [0, 1], [0, 0]])));
  t.deepEqual(ds.shape, [2, 3, 5, 32]);
  t.true(maxDiff(ds, dsRef).maxAbs < 1e-6);
  const as = tensorOps.addScaled(ds, dsRef, -0.5);
  t.true(maxDiff(as, tf.mul(ds, 0.5)).maxAbs < 1e-6);
  tf.dispose([x, z, m, mRef, d, dRef, e.moments, ...e.encFeatures, c, cRef, c0, h, ds, dsRef, as]);
  disposeCfwEncodeResult(eRef);
  disposeAutoencoderKL(cfw);
});

test.serial('the generic entry points upload host-held weights themselves (module scopes)', (t) => {
  const cfw = loadCfw(11);
  const x = tf.tidy(() => tf.tanh(randomTensor([1, 16, 16, 3], 7)));
  const z = randomTensor([1, 4, 4, 3], 8);
  const e = cfwEncodeOps(tfjsOps, cfw, x);
  const ref = cfwDecodeOps(tfjsOps, cfw, z, e.encFeatures, 0.5);
  moveWeightsToHost(cfw);
  const before = tf.memory().numTensors;
  const e2 = cfwEncodeOps(tfjsOps, cfw, x);
  const out = cfwDecodeOps(tfjsOps, cfw, z, e2.encFeatures, 0.5);
  t.is(maxDiff(e2.moments, e.moments).maxAbs, 0);
  t.is(maxDiff(out, ref).maxAbs, 0);
  tf.dispose([e2.moments, ...e2.encFeatures, out]);
  t.is(tf.memory().numTensors, before, 'uploads are freed after each call');
  tf.dispose([x, z, e.moments, ...e.encFeatures, ref]);
  disposeAutoencoderKL(cfw);
});

// ---- A symbolic engine: values carry their logical shape only; every call is logged. ----

interface Sym {
  readonly id: number;
  readonly shape: readonly number[];
}

interface SymEngine {
  ops: Ops<Sym>;
  log: { op: string; conv?: Conv2d; s?: number; attention?: AttentionOptions }[];
  input(shape: number[]): Sym;
  /** Values released so far. */
  released: Set<number>;
  /** Scopes opened with a module. */
  moduleScopes: object[];
}

function symbolicEngine(): SymEngine {
  let next = 0;
  const released = new Set<number>();
  const log: SymEngine['log'] = [];
  const moduleScopes: object[] = [];
  const sym = (shape: readonly number[]): Sym => ({ id: next++, shape: [...shape] });
  const use = (op: string, ...xs: Sym[]): void => {
    for (const x of xs) if (released.has(x.id)) throw new Error(`${op}: value ${x.id} used after release`);
  };
  const same = (op: string, a: Sym, b: Sym): Sym => {
    use(op, a, b);
    if (a.shape.join() !== b.shape.join()) throw new Error(`${op}: shapes [${a.shape}] and [${b.shape}] differ`);
    log.push({ op });
    return sym(a.shape);
  };
  const unary = (op: string) => (x: Sym) => {
    use(op, x);
    log.push({ op });
    return sym(x.shape);
  };
  const unused = (op: string) => (): never => {
    throw new Error(`the autoencoder does not use ${op}`);
  };
  const ops: Ops<Sym> = {
    engine: 'onnx',
    shape: (x) => x.shape,
    weight: unused('weight'),
    conv2d: (c, x) => {
      use('conv2d', x);
      const [b, h, w, ci] = x.shape as [number, number, number, number];
      if (ci !== c.inChannels) throw new Error(`conv2d: ${c.inChannels} input channels expected, got ${ci}`);
      const p = typeof c.padding === 'number' ? [[c.padding, c.padding], [c.padding, c.padding]] : c.padding;
      const out = (n: number, [a, z]: readonly number[]): number => Math.floor((n + a! + z! - c.dilation * (c.kernelSize - 1) - 1) / c.stride) + 1;
      log.push({ op: 'conv2d', conv: c });
      return sym([b, out(h, p[0]!), out(w, p[1]!), c.outChannels]);
    },
    groupNorm: (n, x) => {
      if (x.shape[3] !== n.channels) throw new Error('groupNorm: channels');
      return unary('groupNorm')(x);
    },
    upsampleNearest2x: (x) => {
      use('upsample', x);
      log.push({ op: 'upsampleNearest2x' });
      return sym([x.shape[0]!, x.shape[1]! * 2, x.shape[2]! * 2, x.shape[3]!]);
    },
    resizeNearest: unused('resizeNearest'),
    avgPool2x: unused('avgPool2x'),
    spaceToDepth: unused('spaceToDepth'),
    depthToSpace: unused('depthToSpace'),
    reflectPad: unused('reflectPad'),
    crop: unused('crop'),
    linearAttention: unused('linearAttention'),
    toTokens: (x) => {
      use('toTokens', x);
      log.push({ op: 'toTokens' });
      return sym([x.shape[0]!, x.shape[1]! * x.shape[2]!, x.shape[3]!]);
    },
    fromTokens: (x, h, w) => {
      use('fromTokens', x);
      if (x.shape[1] !== h * w) throw new Error('fromTokens: size');
      log.push({ op: 'fromTokens' });
      return sym([x.shape[0]!, h, w, x.shape[2]!]);
    },
    linear: unused('linear'),
    layerNorm: unused('layerNorm'),
    attention: (q, k, v, o) => {
      use('attention', q, k, v);
      log.push({ op: 'attention', attention: o });
      return sym([q.shape[0]!, q.shape[1]!, v.shape[2]!]);
    },
    embedding: unused('embedding'),
    add: (a, b) => same('add', a, b),
    sub: (a, b) => same('sub', a, b),
    mul: (a, b) => same('mul', a, b),
    scale: (x, s) => {
      const out = unary('scale')(x);
      log[log.length - 1]!.s = s;
      return out;
    },
    addScalar: unary('addScalar'),
    addVector: unused('addVector'),
    mulVector: unused('mulVector'),
    silu: unary('silu'),
    gelu: unary('gelu'),
    quickGelu: unary('quickGelu'),
    relu: unary('relu'),
    leakyRelu: unary('leakyRelu'),
    concat: (xs) => {
      use('concat', ...xs);
      log.push({ op: 'concat' });
      return sym([...xs[0]!.shape.slice(0, -1), xs.reduce((a, x) => a + x.shape[x.shape.length - 1]!, 0)]);
    },
    split: unused('split'),
    scope: (fn, module) => {
      if (module) moduleScopes.push(module);
      return fn();
    },
    release: (x) => {
      if (released.has(x.id)) throw new Error(`value ${x.id} released twice`);
      released.add(x.id);
    },
  };
  return { ops, log, input: (shape) => sym(shape), released, moduleScopes };
}

test.serial('the autoencoder runs on an engine that is not tfjs: only Ops<T>, no value used after release', (t) => {
  const cfw = loadCfw();
  const eng = symbolicEngine();
  const tensorsBefore = tf.memory().numTensors;
  const x = eng.input([2, 32, 24, 3]);
  const z = eng.input([2, 8, 6, 3]);

  const moments = encodeMomentsOps(eng.ops, cfw, x);
  t.deepEqual(moments.shape, [2, 8, 6, 6]);
  t.false(eng.released.has(moments.id));
  // Downsample: stride 2 with explicit right/bottom padding; attention: one head, 1/√C, memory bound.
  const downs = eng.log.filter((l) => l.conv?.stride === 2);
  t.is(downs.length, 2);
  for (const l of downs) t.deepEqual(l.conv!.padding, [[0, 1], [0, 1]]);
  const attn = eng.log.filter((l) => l.op === 'attention');
  t.is(attn.length, 2, 'level-1 attention and the mid block');
  for (const a of attn) {
    t.is(a.attention!.heads, 1);
    t.is(a.attention!.scale, 1 / Math.sqrt(64));
    t.true(a.attention!.scoreBudgetBytes! > 0);
  }
  t.true(eng.moduleScopes.includes(cfw.encoder) && eng.moduleScopes.includes(cfw.quant_conv));

  t.deepEqual(decodeOps(eng.ops, cfw, z).shape, [2, 32, 24, 3]);
  t.true(eng.moduleScopes.includes(cfw.decoder) && eng.moduleScopes.includes(cfw.post_quant_conv));

  const e = cfwEncodeOps(eng.ops, cfw, x);
  t.deepEqual(
    e.encFeatures.map((f) => f.shape),
    [
      [2, 16, 12, 64],
      [2, 8, 6, 64],
    ],
  );
  for (const f of [e.moments, ...e.encFeatures]) t.false(eng.released.has(f.id));
  const count = (w: number): { ops: number; scales: number[] } => {
    const start = eng.log.length;
    t.deepEqual(cfwDecodeOps(eng.ops, cfw, z, e.encFeatures, w).shape, [2, 32, 24, 3]);
    const mine = eng.log.slice(start);
    return { ops: mine.length, scales: mine.filter((l) => l.op === 'scale').map((l) => l.s!) };
  };
  const plain = count(0);
  const fused = count(0.25);
  t.true(fused.ops > plain.ops, 'w ≠ 0 adds the fusion layer');
  t.true(fused.scales.includes(0.25), 'w is baked into the graph as a constant');
  t.false(plain.scales.includes(0.25));
  t.throws(() => cfwDecodeOps(eng.ops, cfw, z, [], 0.5), { message: /0 encoder feature map\(s\) given, fusion level 1 needs enc_fea\[0\]/ });
  t.throws(() => encodeMomentsOps(eng.ops, cfw, eng.input([1, 30, 24, 3])), { message: /not a multiple of the downsampling factor 4/ });

  t.is(tf.memory().numTensors, tensorsBefore, 'no tfjs tensor was created');
  disposeAutoencoderKL(cfw);
});
