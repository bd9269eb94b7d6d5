import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { type ProgressEvent, type WeightView, groupNorm, loadGroupNorm, resolveEngine } from '@stablesr/core';
import {
  type AutoencoderKLConfig,
  cfwDecode,
  cfwDecodeTiled,
  cfwEncode,
  cfwEncodeTiled,
  decode,
  decodeTiled,
  disposeAutoencoderKL,
  disposeCfwEncodeResult,
  disposeEncodeResult,
  encode,
  encodeTiled,
  loadAutoencoderKL,
  loadCfwAutoencoder,
  onnxTiledBackend,
  planTileGrid,
  runTiledProgram,
  segmentProgram,
  traceProgram,
} from '../src/index.js';
import { maxDiff, randomTensor, recordKeys, syntheticWeights } from './helpers.js';

// The public fixtures' shape (4 levels, f = 8, mid attention only) and a second one with channel
// changes (nin_shortcut), two blocks per level, attention at two levels, embed_dim ≠ z_channels.
const FIXTURE_LIKE: AutoencoderKLConfig = {
  embed_dim: 4,
  ddconfig: { double_z: true, z_channels: 4, resolution: 64, in_channels: 3, out_ch: 3, ch: 32, ch_mult: [1, 1, 1, 1], num_res_blocks: 1, attn_resolutions: [], num_fuse_block: 2 },
};
const WIDER: AutoencoderKLConfig = {
  embed_dim: 3,
  ddconfig: { double_z: true, z_channels: 4, resolution: 32, in_channels: 3, out_ch: 3, ch: 32, ch_mult: [1, 2, 2], num_res_blocks: 2, attn_resolutions: [16, 8] },
};

function synthetic(config: AutoencoderKLConfig, cfw: boolean, seed: number): WeightView {
  const load = (v: WeightView) => (cfw ? loadCfwAutoencoder(config, v, { strict: false }) : loadAutoencoderKL(config, v, { strict: false }));
  return syntheticWeights(recordKeys(load, disposeAutoencoderKL), seed);
}

/** Tiled must equal untiled up to float error: max difference below 1e-4 of the output's range. */
function assertSame(t: import('ava').ExecutionContext, tiled: tf.Tensor, untiled: tf.Tensor, what: string): void {
  const { maxAbs, range } = maxDiff(tiled, untiled);
  t.log(`${what}: max |tiled − untiled| = ${maxAbs.toExponential(2)} (range ${range.toFixed(3)})`);
  t.true(range > 0, `${what}: degenerate output`);
  t.true(maxAbs < 1e-4 * range, `${what}: max difference ${maxAbs} vs range ${range}`);
}

test.serial('tiled decode equals untiled decode (15 tiles, non-square latent)', async (t) => {
  const vae = loadAutoencoderKL(FIXTURE_LIKE, synthetic(FIXTURE_LIKE, false, 1));
  const z = randomTensor([1, 12, 20, 4], 2);
  const a = decode(vae, z);
  const events: ProgressEvent[] = [];
  const b = await decodeTiled(vae, z, { tileSize: 4, onProgress: (e) => events.push(e) });
  t.deepEqual(b.shape, [1, 96, 160, 3]);
  assertSame(t, b, a, 'decode');
  const last = events[events.length - 1]!;
  t.is(last.done, last.total);
  t.is(last.stage, 'decode');
  t.true(events.some((e) => e.detail?.tiles === 15));
  tf.dispose([z, a, b]);
  disposeAutoencoderKL(vae);
});

test.serial('tiled encode equals untiled encode (moments, posterior, latent)', async (t) => {
  const vae = loadAutoencoderKL(FIXTURE_LIKE, synthetic(FIXTURE_LIKE, false, 3));
  const x = tf.tidy(() => tf.tanh(randomTensor([1, 96, 160, 3], 4)));
  const a = encode(vae, x);
  const b = await encodeTiled(vae, x, { tileSize: 32 });
  assertSame(t, b.moments, a.moments, 'moments');
  assertSame(t, b.latent, a.latent, 'latent');
  tf.dispose(x);
  disposeEncodeResult(a);
  disposeEncodeResult(b);
  disposeAutoencoderKL(vae);
});

test.serial('tiled == untiled with channel changes, 2 blocks per level, level attention, batch 2', async (t) => {
  const vae = loadAutoencoderKL(WIDER, synthetic(WIDER, false, 5));
  t.true(vae.encoder.down[1]!.attn.length === 2 && vae.decoder.up[1]!.attn.length === 3, 'attention at levels was loaded');
  t.truthy(vae.encoder.down[1]!.block[0]!.nin_shortcut);
  const z = randomTensor([2, 7, 9, 3], 6);
  const a = decode(vae, z);
  const b = await decodeTiled(vae, z, { tileSize: 3 });
  assertSame(t, b, a, 'decode');
  const x = tf.tidy(() => tf.tanh(randomTensor([2, 28, 36, 3], 7)));
  const ea = encode(vae, x);
  const eb = await encodeTiled(vae, x, { tileSize: 8 });
  assertSame(t, eb.moments, ea.moments, 'moments');
  tf.dispose([z, a, b, x]);
  disposeEncodeResult(ea);
  disposeEncodeResult(eb);
  disposeAutoencoderKL(vae);
});

test.serial('tiled CFW encode features and fused decode equal untiled', async (t) => {
  const cfw = loadCfwAutoencoder(FIXTURE_LIKE, synthetic(FIXTURE_LIKE, true, 8));
  const x = tf.tidy(() => tf.tanh(randomTensor([1, 80, 64, 3], 9)));
  const a = cfwEncode(cfw, x);
  const b = await cfwEncodeTiled(cfw, x, { tileSize: 24 });
  t.is(b.encFeatures.length, 2);
  b.encFeatures.forEach((f, k) => assertSame(t, f, a.encFeatures[k]!, `enc_fea.${k}`));
  const z = randomTensor([1, 10, 8, 4], 10);
  const da = cfwDecode(cfw, z, a.encFeatures, 0.7);
  const db = await cfwDecodeTiled(cfw, z, a.encFeatures, 0.7, { tileSize: 3 });
  assertSame(t, db, da, 'cfw decode w=0.7');
  // w = 0 is the plain decoder.
  const plain = decode(cfw, z);
  const d0 = cfwDecode(cfw, z, a.encFeatures, 0);
  t.is(maxDiff(d0, plain).maxAbs, 0);
  t.true(maxDiff(da, plain).maxAbs > 1e-3, 'fusion changes the output');
  tf.dispose([x, z, da, db, plain, d0]);
  disposeCfwEncodeResult(a);
  disposeCfwEncodeResult(b);
  disposeAutoencoderKL(cfw);
});

test.serial('a tile larger than the latent is the untiled computation', async (t) => {
  const vae = loadAutoencoderKL(FIXTURE_LIKE, synthetic(FIXTURE_LIKE, false, 11));
  const z = randomTensor([1, 5, 6, 4], 12);
  const a = decode(vae, z);
  const b = await decodeTiled(vae, z, { tileSize: 1000 });
  assertSame(t, b, a, 'decode');
  tf.dispose([z, a, b]);
  disposeAutoencoderKL(vae);
});

test.serial('tiled GroupNorm statistics stay accurate for values far from zero', async (t) => {
  // Mean 100, std 0.1: Σx² − N·mean² accumulated in float32 would lose most digits of the variance.
  const view = syntheticWeights(new Map([['n.weight', [32]], ['n.bias', [32]]]), 13);
  const norm = loadGroupNorm(view, 'n', 32, 32, 1e-6);
  const x = tf.tidy(() => tf.add(tf.mul(randomTensor([1, 24, 40, 32], 14), 0.1), 100) as tf.Tensor4D);
  const program = traceProgram([{ channels: 32, shift: 0 }], (ops, [r]) => [ops.groupNorm(norm, r!)]);
  const [tiled] = await runTiledProgram(program, planTileGrid(24, 40, 7), [x]);
  // Float64 reference.
  const d = x.dataSync();
  const g = norm.gamma.dataSync();
  const be = norm.beta.dataSync();
  const mean = new Float64Array(32);
  const m2 = new Float64Array(32);
  const n = 24 * 40;
  for (let i = 0; i < d.length; i++) mean[i % 32]! += d[i]! / n;
  for (let i = 0; i < d.length; i++) m2[i % 32]! += (d[i]! - mean[i % 32]!) ** 2 / n;
  const ref = tf.tensor4d(Float32Array.from(d, (v, i) => ((v - mean[i % 32]!) / Math.sqrt(m2[i % 32]! + 1e-6)) * g[i % 32]! + be[i % 32]!), x.shape);
  const { maxAbs, range } = maxDiff(tiled!, ref);
  t.log(`max err ${maxAbs.toExponential(2)}, range ${range.toFixed(2)}`);
  t.true(maxAbs < 1e-3 * range, `tiled GroupNorm error ${maxAbs}`);
  // Same normalisation formula as the untiled GroupNorm, so any difference is in the statistics.
  const untiled = groupNorm(norm, x);
  const vsUntiled = maxDiff(tiled!, untiled).maxAbs;
  t.log(`untiled max err ${maxDiff(untiled, ref).maxAbs.toExponential(2)}, tiled vs untiled ${vsUntiled.toExponential(2)}`);
  t.true(vsUntiled < 1e-4 * range);
  tf.dispose([x, tiled!, ref, untiled]);
});

test.serial('stages split before every GroupNorm; attention runs alone', (t) => {
  const vae = loadAutoencoderKL(FIXTURE_LIKE, synthetic(FIXTURE_LIKE, false, 15));
  const p = traceProgram([{ channels: 4, shift: 0 }], (ops, [z]) => {
    const h = ops.conv(vae.post_quant_conv, z!);
    return [ops.attention(vae.decoder.mid.attn_1, ops.conv(vae.decoder.conv_in, h))];
  });
  const segs = segmentProgram(p);
  t.deepEqual(
    segs.map((s) => [s.start, s.end, s.global]),
    [
      [0, 1, false],
      [2, 2, true],
    ],
  );
  disposeAutoencoderKL(vae);
});

test.serial('tiled decode: abort stops between tiles and leaks nothing; repeated calls leak nothing', async (t) => {
  const vae = loadAutoencoderKL(FIXTURE_LIKE, synthetic(FIXTURE_LIKE, false, 16));
  const z = randomTensor([1, 8, 8, 4], 17);
  const warm = await decodeTiled(vae, z, { tileSize: 4 });
  warm.dispose();
  const before = tf.memory().numTensors;
  for (let i = 0; i < 2; i++) (await decodeTiled(vae, z, { tileSize: 4 })).dispose();
  t.is(tf.memory().numTensors, before);
  const ac = new AbortController();
  let seen = 0;
  let caught: unknown;
  try {
    await decodeTiled(vae, z, {
      tileSize: 4,
      signal: ac.signal,
      onProgress: () => {
        if (++seen === 5) ac.abort();
      },
    });
  } catch (e) {
    caught = e;
  }
  // AbortController.abort() without a reason rejects with the signal's DOMException named AbortError.
  t.is((caught as { name?: string } | undefined)?.name, 'AbortError');
  t.is(seen, 5);
  t.is(tf.memory().numTensors, before);
  z.dispose();
  disposeAutoencoderKL(vae);
});

test.serial('on ONNX Runtime, tiled decode, encode and CFW equal the untiled tfjs results (uneven tiles, batch 2, level attention)', async (t) => {
  const backend = onnxTiledBackend('test VAE', await resolveEngine({ engine: 'onnxruntime', threads: 1 }));
  try {
    // 11×18 latent in tiles of ≤ 5: rows 4,3,4 and cols 5,4,5,4 — one graph per stage serves all 12 uneven tiles.
    const vae = loadAutoencoderKL(FIXTURE_LIKE, synthetic(FIXTURE_LIKE, false, 1));
    const z = randomTensor([1, 11, 18, 4], 2);
    const a = decode(vae, z);
    const events: ProgressEvent[] = [];
    const b = await decodeTiled(vae, z, { tileSize: 5, backend, onProgress: (e) => events.push(e) });
    assertSame(t, b, a, 'decode (ORT)');
    t.true(events.some((e) => e.detail?.tiles === 12));
    const x = tf.tidy(() => tf.tanh(randomTensor([1, 88, 136, 3], 4)));
    const ea = encode(vae, x);
    const eb = await encodeTiled(vae, x, { tileSize: 40, backend });
    assertSame(t, eb.moments, ea.moments, 'moments (ORT)');
    tf.dispose([z, a, b, x]);
    disposeEncodeResult(ea);
    disposeEncodeResult(eb);
    disposeAutoencoderKL(vae);

    const wide = loadAutoencoderKL(WIDER, synthetic(WIDER, false, 5));
    const z2 = randomTensor([2, 7, 9, 3], 6);
    const a2 = decode(wide, z2);
    const b2 = await decodeTiled(wide, z2, { tileSize: 3, backend });
    assertSame(t, b2, a2, 'decode, channel changes + level attention, batch 2 (ORT)');
    tf.dispose([z2, a2, b2]);
    disposeAutoencoderKL(wide);

    const cfw = loadCfwAutoencoder(FIXTURE_LIKE, synthetic(FIXTURE_LIKE, true, 8));
    const xc = tf.tidy(() => tf.tanh(randomTensor([1, 80, 64, 3], 9)));
    const ca = cfwEncode(cfw, xc);
    const cb = await cfwEncodeTiled(cfw, xc, { tileSize: 24, backend });
    cb.encFeatures.forEach((f, k) => assertSame(t, f, ca.encFeatures[k]!, `enc_fea.${k} (ORT)`));
    const zc = randomTensor([1, 10, 8, 4], 10);
    const da = cfwDecode(cfw, zc, ca.encFeatures, 0.7);
    const db = await cfwDecodeTiled(cfw, zc, ca.encFeatures, 0.7, { tileSize: 3, backend });
    assertSame(t, db, da, 'cfw decode w=0.7 (ORT)');
    tf.dispose([xc, zc, da, db]);
    disposeCfwEncodeResult(ca);
    disposeCfwEncodeResult(cb);
    disposeAutoencoderKL(cfw);
  } finally {
    await backend.dispose();
  }
});

test.serial('on ONNX Runtime, tiled GroupNorm statistics stay accurate for values far from zero', async (t) => {
  const backend = onnxTiledBackend('test norm', await resolveEngine({ engine: 'onnxruntime', threads: 1 }));
  const view = syntheticWeights(new Map([['n.weight', [32]], ['n.bias', [32]]]), 13);
  const norm = loadGroupNorm(view, 'n', 32, 8, 1e-6);
  const conv = { inChannels: 32, outChannels: 32, kernelSize: 1, stride: 1, padding: 0, dilation: 1, weight: tf.reshape(tf.eye(32), [1, 1, 32, 32]) as tf.Tensor4D } as unknown as import('@stablesr/core').Conv2d;
  const x = tf.tidy(() => tf.add(tf.mul(randomTensor([1, 24, 40, 32], 14), 0.1), 100) as tf.Tensor4D);
  // A conv before the norm makes the statistics come from the tiles (not from the whole-map input).
  const program = traceProgram([{ channels: 32, shift: 0 }], (ops, [r]) => [ops.groupNorm(norm, ops.conv(conv, r!))]);
  try {
    const [tiled] = await runTiledProgram(program, planTileGrid(24, 40, 7), [x], { backend });
    const untiled = groupNorm(norm, x);
    const { maxAbs, range } = maxDiff(tiled!, untiled);
    t.log(`ORT tiled vs untiled ${maxAbs.toExponential(2)} (range ${range.toFixed(2)})`);
    t.true(maxAbs < 2e-3 * range, `tiled GroupNorm error ${maxAbs}`);
    tf.dispose([tiled!, untiled]);
  } finally {
    tf.dispose([x, conv.weight, norm.gamma, norm.beta]);
    await backend.dispose();
  }
});
