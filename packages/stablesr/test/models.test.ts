import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { Fixture, fixturesRoot, nhwcToNchw, resolveEngine, runNetworkOnce, tfjsOps, type Ops } from '@stablesr/core';
import { loadUNet, pickConfig, resBlockForward, loadResBlock, stableSROutNormGroups, timestepEmbedding, type UNetConfig } from '@stablesr/unet';
import { encodeSafetensors, openWeights } from '@stablesr/core';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerFixtureTests } from '../../../test/fixtureSuite.js';
import { modelKinds, fixtureStructCond } from '../src/parity/modelKinds.js';
import {
  type EncoderUNetModelWTConfig,
  type UNetModelDualcondV2Config,
  disposeTimeAwareEncoder,
  loadStableSRUNet,
  loadTimeAwareEncoder,
  spadeForward,
  stableSRUNetForward,
  stableSRUNetForwardOps,
  timeAwareEncoderForward,
  timeAwareEncoderForwardOps,
} from '../src/index.js';
import { disposeUNet } from '@stablesr/unet';
import { disposeStructCond } from '../src/srModels.js';

registerFixtureTests(modelKinds);

const root = fixturesRoot();

if (root) {
  const unetDir = join(root, 'stablesr.unet');
  const encDir = join(root, 'stablesr.encoder');
  const ts = (fx: Fixture): number[] => Array.from(fx.input('t').dataSync());

  test.serial('encoder → SPADE U-Net chain from lr_latent reproduces eps; no leak across repeated calls', (t) => {
    const fx = new Fixture(unetDir);
    const efx = new Fixture(encDir);
    try {
      const unet = loadStableSRUNet(pickConfig<UNetModelDualcondV2Config>(fx.config, 'unet_config'), fx.weights(0));
      // The encoder bundle is the same checkpoint; its config comes from the encoder fixture.
      const enc = loadTimeAwareEncoder(pickConfig<EncoderUNetModelWTConfig>(efx.config, 'structcond_stage_config'), efx.weights(0));
      const x = fx.inputNhwc('x') as tf.Tensor4D;
      const lr = fx.inputNhwc('lr_latent') as tf.Tensor4D;
      const ctx = fx.input('context') as tf.Tensor3D;
      const t0 = ts(fx);
      const run = (): tf.Tensor4D => {
        const sc = timeAwareEncoderForward(enc, lr, t0);
        const y = stableSRUNetForward(unet, x, t0, ctx, sc);
        disposeStructCond(sc);
        return y;
      };
      run().dispose();
      const before = tf.memory().numTensors;
      const y = run();
      run().dispose();
      t.is(tf.memory().numTensors, before + 1);
      const expected = fx.expected('eps');
      const nchw = nhwcToNchw(y);
      const err = tf.max(tf.abs(tf.sub(nchw, expected))).dataSync()[0]!;
      t.true(err < fx.manifest.outputs.eps!.atol, `max error ${err} vs allowed ${fx.manifest.outputs.eps!.atol}`);
      tf.dispose([x, lr, ctx, y, expected, nchw]);
      disposeUNet(unet);
      disposeTimeAwareEncoder(enc);
    } finally {
      fx.close();
      efx.close();
    }
  });

  test.serial('generic encoder → SPADE U-Net: tfjsOps leaks nothing across two calls; the same forwards recorded as ONNX graphs reproduce struct_cond and eps', async (t) => {
    const fx = new Fixture(unetDir);
    const efx = new Fixture(encDir);
    const unet = loadStableSRUNet(pickConfig<UNetModelDualcondV2Config>(fx.config, 'unet_config'), fx.weights(0));
    const enc = loadTimeAwareEncoder(pickConfig<EncoderUNetModelWTConfig>(efx.config, 'structcond_stage_config'), efx.weights(0));
    const x = fx.inputNhwc('x') as tf.Tensor4D;
    const lr = fx.inputNhwc('lr_latent') as tf.Tensor4D;
    const ctx = fx.input('context') as tf.Tensor3D;
    const uEmb = timestepEmbedding(ts(fx), unet.time_embed.modelChannels);
    const eEmb = timestepEmbedding(ts(fx), enc.time_embed.modelChannels);
    const ex = efx.inputNhwc('x') as tf.Tensor4D;
    const exEmb = timestepEmbedding(ts(efx), enc.time_embed.modelChannels);
    const expected = fx.expected('eps');
    try {
      // tfjsOps: no leak, same numbers as the tf wrappers.
      const want = (() => {
        const sc = timeAwareEncoderForward(enc, lr, ts(fx));
        const y = stableSRUNetForward(unet, x, ts(fx), ctx, sc);
        disposeStructCond(sc);
        return y;
      })();
      const before = tf.memory().numTensors;
      for (let i = 0; i < 2; i++) {
        const sc = timeAwareEncoderForwardOps(tfjsOps, enc, lr, eEmb);
        const y = stableSRUNetForwardOps(tfjsOps, unet, x, uEmb, ctx, sc);
        for (const v of sc.values()) v.dispose();
        t.is(tf.tidy(() => tf.max(tf.abs(tf.sub(y, want))).dataSync()[0]), 0);
        y.dispose();
        t.is(tf.memory().numTensors, before, `call ${i + 1}`);
      }
      want.dispose();

      const ort = await resolveEngine({ engine: 'onnxruntime', threads: 1 });
      // The encoder alone, against its fixture.
      const encForward = <T>(ops: Ops<T>, [xi, te]: readonly T[]): T[] => [...timeAwareEncoderForwardOps(ops, enc, xi!, te!).values()];
      const feats = await runNetworkOnce({ name: 'time-aware encoder', module: enc, forward: encForward }, ort, [ex, exEmb]);
      t.is(feats.length, Object.keys(efx.manifest.outputs).length);
      for (const f of feats) {
        const name = `struct_cond.${f.shape[2]}`;
        const e = efx.expected(name);
        const nchw = nhwcToNchw(f as tf.Tensor4D);
        const err = tf.max(tf.abs(tf.sub(nchw, e))).dataSync()[0]!;
        t.log(`onnxruntime ${name}: max error ${err.toExponential(3)}`);
        t.true(err < efx.manifest.outputs[name]!.atol, `${name}: max error ${err}`);
        tf.dispose([e, nchw]);
      }
      tf.dispose(feats);
      // Encoder → U-Net as one graph from lr_latent.
      const chain = <T>(ops: Ops<T>, [xi, lri, c, te, ete]: readonly T[]): T[] => {
        const sc = timeAwareEncoderForwardOps(ops, enc, lri!, ete!);
        try {
          return [stableSRUNetForwardOps(ops, unet, xi!, te!, c!, sc)];
        } finally {
          for (const v of sc.values()) ops.release(v);
        }
      };
      const [y] = await runNetworkOnce({ name: 'StableSR encoder + U-Net', module: { unet, enc }, forward: chain }, ort, [x, lr, ctx, uEmb, eEmb]);
      const nchw = nhwcToNchw(y! as tf.Tensor4D);
      const err = tf.max(tf.abs(tf.sub(nchw, expected))).dataSync()[0]!;
      t.log(`onnxruntime eps: max error ${err.toExponential(3)}`);
      t.true(err < fx.manifest.outputs.eps!.atol, `max error ${err} vs allowed ${fx.manifest.outputs.eps!.atol}`);
      tf.dispose([y!, nchw]);
    } finally {
      tf.dispose([x, lr, ctx, uEmb, eEmb, ex, exEmb, expected]);
      disposeUNet(unet);
      disposeTimeAwareEncoder(enc);
      fx.close();
      efx.close();
    }
  });

  test.serial('a plain SD U-Net checkpoint loaded as StableSR is a clear error', (t) => {
    const fx = new Fixture(join(root, 'unet'));
    try {
      const before = tf.memory().numTensors;
      const cfg = pickConfig<UNetConfig>(fx.config, 'unet_config');
      const err = t.throws(() => loadStableSRUNet({ ...cfg, semb_channels: 32 }, fx.weights(0)));
      t.true(err!.message.includes(fx.manifest.weights[0]!.file.split('/').slice(-2).join('/')), err!.message);
      t.regex(err!.message, /no SPADE tensors.*plain Stable Diffusion U-Net, not a StableSR/);
      t.is(tf.memory().numTensors, before);
    } finally {
      fx.close();
    }
  });

  test.serial('StableSR U-Net: wrong context width, missing struct_cond width and missing struct_cond are clear errors', (t) => {
    const fx = new Fixture(unetDir);
    try {
      const cfg = pickConfig<UNetModelDualcondV2Config>(fx.config, 'unet_config');
      const unet = loadStableSRUNet(cfg, fx.weights(0));
      const x = fx.inputNhwc('x') as tf.Tensor4D;
      const sc = fixtureStructCond(fx);
      const ctx = fx.input('context') as tf.Tensor3D;
      const badCtx = tf.zeros([1, 77, 20]) as tf.Tensor3D;
      const before = tf.memory().numTensors;
      const e1 = t.throws(() => stableSRUNetForward(unet, x, [5], badCtx, sc));
      t.regex(e1!.message, new RegExp(`context width 20 does not match the model's context_dim ${cfg.context_dim}`));
      const partial = new Map([...sc].filter(([w]) => w !== 8));
      const e2 = t.throws(() => stableSRUNetForward(unet, x, [5], ctx, partial));
      t.regex(e2!.message, /no feature of width 8 \(widths present: 16, 4\)/);
      const e3 = t.throws(() => stableSRUNetForward(unet, x, [5], ctx, undefined as never));
      t.regex(e3!.message, /struct_cond/);
      t.is(tf.memory().numTensors, before, 'failed forwards release their intermediates');
      tf.dispose([x, ctx, badCtx]);
      disposeStructCond(sc);
      disposeUNet(unet);
    } finally {
      fx.close();
    }
  });

  test.serial('SPADE nearest-resizes a structure feature of another size to the feature it modulates', (t) => {
    const fx = new Fixture(unetDir);
    try {
      const unet = loadStableSRUNet(pickConfig<UNetModelDualcondV2Config>(fx.config, 'unet_config'), fx.weights(0));
      const block = unet.input_blocks[1]![0]!;
      if (block.kind !== 'ResBlock' || !block.modulation) throw new Error('input_blocks.1.0 is not a SPADE ResBlock');
      const spade = (block.modulation as unknown as { spade: Parameters<typeof spadeForward>[0] }).spade;
      const h = tf.randomNormal([1, 8, 8, spade.normNc], 0, 1, 'float32', 1) as tf.Tensor4D;
      const small = tf.randomNormal([1, 4, 4, spade.labelNc], 0, 1, 'float32', 2) as tf.Tensor4D;
      const big = tf.image.resizeNearestNeighbor(small, [8, 8]);
      const a = spadeForward(spade, h, new Map([[8, small]]));
      const b = spadeForward(spade, h, new Map([[8, big]]));
      t.is(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0], 0);
      // GN(h)·(1+γ)+β with γ = β = 0 would be GN(h): the modulation is active.
      t.true(tf.max(tf.abs(tf.sub(a, h))).dataSync()[0]! > 1e-3);
      tf.dispose([h, small, big, a, b]);
      disposeUNet(unet);
    } finally {
      fx.close();
    }
  });

  test.serial('time-aware encoder: keys are feature widths (non-square input), no leak', (t) => {
    const fx = new Fixture(encDir);
    try {
      const enc = loadTimeAwareEncoder(pickConfig<EncoderUNetModelWTConfig>(fx.config, 'structcond_stage_config'), fx.weights(0));
      const x = tf.randomNormal([2, 8, 24, 4], 0, 1, 'float32', 3) as tf.Tensor4D;
      timeAwareEncoderForward(enc, x, [3, 900]).forEach((v) => v.dispose());
      const before = tf.memory().numTensors;
      const sc = timeAwareEncoderForward(enc, x, [3, 900]);
      const levels = (fx.config['structcond_stage_config (EncoderUNetModelWT)'] as { channel_mult: number[] }).channel_mult.length;
      const widths = Array.from({ length: levels }, (_, i) => 24 / 2 ** i);
      t.deepEqual([...sc.keys()], widths);
      for (const [w, f] of sc) t.deepEqual(f.shape, [2, (8 * w) / 24, w, fx.manifest.outputs[`struct_cond.16`]!.shape[1]!]);
      t.is(tf.memory().numTensors, before + sc.size);
      disposeStructCond(sc);
      x.dispose();
      disposeTimeAwareEncoder(enc);
    } finally {
      fx.close();
    }
  });
}

test.serial('StableSR ResBlock rule: out_layers.0 has one group per channel when out_channels % 32 != 0', (t) => {
  t.is(stableSROutNormGroups(64), 32);
  t.is(stableSROutNormGroups(16), 16);
  // A synthetic ResBlock 32 → 16 whose second norm is an instance norm per channel: compare with a direct computation.
  const rnd = (n: number, s: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + s) * 0.5);
  const tensors = {
    'in_layers.0.weight': { shape: [32], data: rnd(32, 1).map((v) => 1 + v) },
    'in_layers.0.bias': { shape: [32], data: rnd(32, 2) },
    'in_layers.2.weight': { shape: [16, 32, 3, 3], data: rnd(16 * 32 * 9, 3).map((v) => v / 10) },
    'in_layers.2.bias': { shape: [16], data: rnd(16, 4) },
    'emb_layers.1.weight': { shape: [16, 8], data: rnd(128, 5) },
    'emb_layers.1.bias': { shape: [16], data: rnd(16, 6) },
    'out_layers.0.weight': { shape: [16], data: rnd(16, 7).map((v) => 1 + v) },
    'out_layers.0.bias': { shape: [16], data: rnd(16, 8) },
    'out_layers.3.weight': { shape: [16, 16, 3, 3], data: rnd(16 * 16 * 9, 9).map((v) => v / 10) },
    'out_layers.3.bias': { shape: [16], data: rnd(16, 10) },
    'skip_connection.weight': { shape: [16, 32, 1, 1], data: rnd(512, 11) },
    'skip_connection.bias': { shape: [16], data: rnd(16, 12) },
  };
  const dir = mkdtempSync(join(tmpdir(), 'resblock-'));
  const file = join(dir, 'rb.safetensors');
  writeFileSync(file, encodeSafetensors(tensors));
  const w = openWeights(file);
  try {
    const rb = loadResBlock(w, { channels: 32, embChannels: 8, outChannels: 16, outNormGroups: stableSROutNormGroups(16) });
    t.is(rb.out_layers[0].groups, 16);
    const x = tf.randomNormal([1, 4, 4, 32], 0, 1, 'float32', 4) as tf.Tensor4D;
    const emb = tf.randomNormal([1, 8], 0, 1, 'float32', 5) as tf.Tensor2D;
    const y = resBlockForward(rb, x, emb);
    // Same block with a per-channel instance norm written out: (h − mean_hw) / sqrt(var_hw + 1e-5)·γ + β.
    const manual = tf.tidy(() => {
      const silu = (v: tf.Tensor): tf.Tensor => tf.mul(v, tf.sigmoid(v));
      const gn32 = (v: tf.Tensor4D): tf.Tensor4D => {
        const g = tf.reshape(v, [1, 16, 32]);
        const m = tf.mean(g, [1], true);
        const va = tf.mean(tf.square(tf.sub(g, m)), [1], true);
        return tf.reshape(tf.div(tf.sub(g, m), tf.sqrt(tf.add(va, 1e-5))), [1, 4, 4, 32]);
      };
      const conv = (v: tf.Tensor4D, k: string, bias: string, kk: number): tf.Tensor4D =>
        tf.add(tf.conv2d(v, tf.transpose(tf.tensor4d(tensors[k as keyof typeof tensors].data, tensors[k as keyof typeof tensors].shape as [number, number, number, number]), [2, 3, 1, 0]) as tf.Tensor4D, 1, kk === 3 ? 'same' : 'valid'), tf.tensor(tensors[bias as keyof typeof tensors].data));
      // The first norm: 32 channels in 32 groups is also per channel.
      let h = gn32(x);
      h = tf.add(tf.mul(h, tensors['in_layers.0.weight'].data as unknown as number[]), tensors['in_layers.0.bias'].data as unknown as number[]) as tf.Tensor4D;
      h = conv(silu(h) as tf.Tensor4D, 'in_layers.2.weight', 'in_layers.2.bias', 3);
      const e = tf.add(tf.matMul(silu(emb) as tf.Tensor2D, tf.tensor2d(tensors['emb_layers.1.weight'].data, [16, 8]), false, true), tensors['emb_layers.1.bias'].data as unknown as number[]);
      h = tf.add(h, tf.reshape(e, [1, 1, 1, 16]));
      const m = tf.mean(h, [1, 2], true);
      const va = tf.mean(tf.square(tf.sub(h, m)), [1, 2], true);
      let n = tf.div(tf.sub(h, m), tf.sqrt(tf.add(va, 1e-5)));
      n = tf.add(tf.mul(n, tensors['out_layers.0.weight'].data as unknown as number[]), tensors['out_layers.0.bias'].data as unknown as number[]);
      h = conv(silu(n) as tf.Tensor4D, 'out_layers.3.weight', 'out_layers.3.bias', 3);
      return tf.add(conv(x, 'skip_connection.weight', 'skip_connection.bias', 1), h);
    });
    const diff = tf.max(tf.abs(tf.sub(y, manual))).dataSync()[0]!;
    t.true(diff < 1e-4, `max diff ${diff}`);
    tf.dispose([x, emb, y, manual]);
  } finally {
    w.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
