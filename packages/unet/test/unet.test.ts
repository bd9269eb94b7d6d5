import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { buildOnHost, encodeSafetensors, fixturesRoot, Fixture, hasHostWeights, nhwcToNchw, openWeights, resolveEngine, runNetworkOnce, tfjsOps, type Ops } from '@stablesr/core';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerFixtureTests } from '../../../test/fixtureSuite.js';
import { modelKinds } from '../src/parity/modelKinds.js';
import {
  diffusersToOriginalUNetKey,
  diffusersUNetPrefixes,
  diffusersUNetView,
  disposeUNet,
  loadUNet,
  originalToDiffusersUNetKey,
  pickConfig,
  timestepEmbedding,
  unetForward,
  unetForwardOps,
  type UNet,
  type UNetConfig,
} from '../src/index.js';

registerFixtureTests({ unet: modelKinds.unet! });

test('timestep embedding is cos first, sin second, float32 frequencies', (t) => {
  const e = timestepEmbedding([0, 500], 6);
  const d = e.dataSync();
  e.dispose();
  // t = 0: cos 0 = 1, sin 0 = 0.
  t.deepEqual(Array.from(d.slice(0, 6)), [1, 1, 1, 0, 0, 0]);
  // freqs = exp(−ln(1e4)·j/3), j = 0..2, emb = [cos(500·f), sin(500·f)].
  const f = [0, 1, 2].map((j) => Math.exp((-Math.log(10000) * j) / 3));
  const want = [...f.map((x) => Math.cos(500 * x)), ...f.map((x) => Math.sin(500 * x))];
  for (let i = 0; i < 6; i++) t.true(Math.abs(d[6 + i]! - want[i]!) < 1e-4, `element ${i}: ${d[6 + i]} vs ${want[i]}`);
});

const root = fixturesRoot();
const unetDir = root ? join(root, 'unet') : undefined;

if (unetDir) {
  /** Runs `body` on the `unet` fixture with its U-Net loaded and inputs read (NHWC x, context, timesteps); all released after. */
  const withUNetFixture = (body: (a: { fx: Fixture; cfg: UNetConfig; unet: UNet; x: tf.Tensor4D; ctx: tf.Tensor3D; ts: number[] }) => void): void => {
    const fx = new Fixture(unetDir);
    try {
      const cfg = pickConfig<UNetConfig>(fx.config, 'unet_config');
      const unet = loadUNet(cfg, fx.weights(0));
      const x = fx.inputNhwc('x') as tf.Tensor4D;
      const ctx = fx.input('context') as tf.Tensor3D;
      try {
        body({ fx, cfg, unet, x, ctx, ts: Array.from(fx.input('t').dataSync()) });
      } finally {
        tf.dispose([x, ctx]);
        disposeUNet(unet);
      }
    } finally {
      fx.close();
    }
  };

  test.serial('U-Net: no tensor leak across repeated forwards, same result each time', (t) => {
    withUNetFixture(({ unet, x, ctx, ts }) => {
      const run = (): Float32Array => {
        const y = unetForward(unet, x, ts, ctx);
        const d = y.dataSync() as Float32Array;
        y.dispose();
        return d;
      };
      const first = run();
      const before = tf.memory().numTensors;
      const second = run();
      run();
      t.is(tf.memory().numTensors, before);
      t.deepEqual(Array.from(second), Array.from(first));
    });
  });

  test.serial('generic U-Net forward on tfjsOps: same output as unetForward, no tensor leak across two calls', (t) => {
    withUNetFixture(({ unet, x, ctx, ts }) => {
      const want = unetForward(unet, x, ts, ctx);
      const tEmb = timestepEmbedding(ts, unet.time_embed.modelChannels);
      const before = tf.memory().numTensors;
      const run = (): Float32Array => {
        const y = unetForwardOps(tfjsOps, unet, x, tEmb, ctx);
        const d = y.dataSync() as Float32Array;
        y.dispose();
        return d;
      };
      const first = run();
      const second = run();
      t.is(tf.memory().numTensors, before);
      t.deepEqual(Array.from(first), Array.from(want.dataSync()));
      t.deepEqual(Array.from(second), Array.from(first));
      tf.dispose([want, tEmb]);
    });
  });

  test.serial('generic U-Net forward recorded as one ONNX graph (onnxruntime) reproduces eps', async (t) => {
    const fx = new Fixture(unetDir);
    const unet = loadUNet(pickConfig<UNetConfig>(fx.config, 'unet_config'), fx.weights(0));
    const x = fx.inputNhwc('x') as tf.Tensor4D;
    const ctx = fx.input('context') as tf.Tensor3D;
    const tEmb = timestepEmbedding(Array.from(fx.input('t').dataSync()), unet.time_embed.modelChannels);
    const expected = fx.expected('eps');
    try {
      const forward = <T>(ops: Ops<T>, [xi, te, c]: readonly T[]): T[] => [unetForwardOps(ops, unet, xi!, te!, c)];
      const [y] = await runNetworkOnce({ name: 'U-Net', module: unet, forward }, await resolveEngine({ engine: 'onnxruntime', threads: 1 }), [x, tEmb, ctx]);
      const nchw = nhwcToNchw(y! as tf.Tensor4D);
      const err = tf.max(tf.abs(tf.sub(nchw, expected))).dataSync()[0]!;
      t.log(`onnxruntime eps: max error ${err.toExponential(3)}`);
      t.true(err < fx.manifest.outputs.eps!.atol, `max error ${err}`);
      tf.dispose([y!, nchw]);
    } finally {
      tf.dispose([x, ctx, tEmb, expected]);
      disposeUNet(unet);
      fx.close();
    }
  });

  test.serial('U-Net with its weights on the host (built on cpu, uploaded per layer) gives the same output and leaks nothing', async (t) => {
    const fx = new Fixture(unetDir);
    const cfg = pickConfig<UNetConfig>(fx.config, 'unet_config');
    const x = fx.inputNhwc('x') as tf.Tensor4D;
    const ctx = fx.input('context') as tf.Tensor3D;
    const ts = Array.from(fx.input('t').dataSync());
    const onBackend = loadUNet(cfg, fx.weights(0));
    const before = tf.memory().numTensors;
    const onHost = await buildOnHost(() => loadUNet(cfg, fx.weights(0)));
    try {
      t.is(tf.memory().numTensors, before, 'no U-Net weight is left on the backend');
      t.true(hasHostWeights(onHost));
      const run = (unet: UNet): Float32Array => {
        const y = unetForward(unet, x, ts, ctx);
        const d = y.dataSync() as Float32Array;
        y.dispose();
        return d;
      };
      const want = run(onBackend);
      t.deepEqual(Array.from(run(onHost)), Array.from(want));
      t.deepEqual(Array.from(run(onHost)), Array.from(want));
      t.is(tf.memory().numTensors, before);
    } finally {
      disposeUNet(onHost);
      disposeUNet(onBackend);
      tf.dispose([x, ctx]);
      fx.close();
    }
  });

  test.serial('U-Net: batch of 2 with different timesteps equals two single runs', (t) => {
    withUNetFixture(({ unet, x, ctx }) => {
      const x2 = tf.concat([x, tf.reverse(x, 1)]);
      const ctx2 = tf.concat([ctx, tf.reverse(ctx, 1)]);
      const both = unetForward(unet, x2, [10, 700], ctx2);
      const a = unetForward(unet, x, [10], ctx);
      const b = unetForward(unet, tf.reverse(x, 1) as tf.Tensor4D, [700], tf.reverse(ctx, 1) as tf.Tensor3D);
      const diff = tf.max(tf.abs(tf.sub(both, tf.concat([a, b])))).dataSync()[0]!;
      t.true(diff < 1e-4, `max diff ${diff}`);
      tf.dispose([x2, ctx2, both, a, b]);
    });
  });

  test.serial('U-Net: chunked attention (small memory budget) gives the same output', (t) => {
    withUNetFixture(({ fx, unet, x, ctx, ts }) => {
      const whole = unetForward(unet, x, ts, ctx);
      // 256 tokens × 256 keys × 4 bytes: a 4 KiB budget forces 4-row attention chunks.
      const chunked = unetForward(unet, x, ts, ctx, undefined, { attention: { scoreBudgetBytes: 4096 } });
      const diff = tf.max(tf.abs(tf.sub(whole, chunked))).dataSync()[0]!;
      t.true(diff < 1e-5, `max diff ${diff}`);
      const expected = fx.expected('eps');
      const nchw = nhwcToNchw(chunked);
      const err = tf.max(tf.abs(tf.sub(nchw, expected))).dataSync()[0]!;
      t.true(err < fx.manifest.outputs.eps!.atol, `chunked max error ${err}`);
      tf.dispose([whole, chunked, expected, nchw]);
    });
  });

  test.serial('U-Net: a context of the wrong width is a clear error naming both widths', (t) => {
    withUNetFixture(({ cfg, unet, x }) => {
      const bad = tf.zeros([1, 77, 24]) as tf.Tensor3D;
      const before = tf.memory().numTensors;
      const err = t.throws(() => unetForward(unet, x, [1], bad));
      t.regex(err!.message, /context width 24/);
      t.regex(err!.message, new RegExp(`context_dim ${cfg.context_dim}`));
      t.is(tf.memory().numTensors, before);
      bad.dispose();
    });
  });

  test.serial('U-Net: a config that does not fit the checkpoint names the key', (t) => {
    const fx = new Fixture(unetDir);
    try {
      const cfg = pickConfig<UNetConfig>(fx.config, 'unet_config');
      const before = tf.memory().numTensors;
      const err = t.throws(() => loadUNet({ ...cfg, model_channels: 64 }, fx.weights(0)));
      t.regex(err!.message, /model\.diffusion_model\.\S+/);
      const err2 = t.throws(() => loadUNet({ ...cfg, use_linear_in_transformer: false }, fx.weights(0)));
      t.regex(err2!.message, /proj_in\.weight.*use_linear_in_transformer/);
      const err3 = t.throws(() => loadUNet({ ...cfg, num_res_blocks: 1 }, fx.weights(0)));
      t.regex(err3!.message, /input_blocks\.2\.0\.op\.weight.*missing key/);
      t.is(tf.memory().numTensors, before, 'a failed load releases what it read');
    } finally {
      fx.close();
    }
  });
}

if (root) {
  test.serial('U-Net: a StableSR (SPADE) U-Net loaded as a plain U-Net reports the unexpected SPADE keys', (t) => {
    const fx = new Fixture(join(root, 'stablesr.unet'));
    try {
      const before = tf.memory().numTensors;
      const err = t.throws(() => loadUNet(pickConfig<UNetConfig>(fx.config, 'unet_config'), fx.weights(0)));
      t.regex(err!.message, /unexpected key\(s\) for UNetModel: model\.diffusion_model\.\S*spade\./);
      t.is(tf.memory().numTensors, before);
    } finally {
      fx.close();
    }
  });
}

if (unetDir) {
  test.serial('diffusers U-Net key table: a renamed copy of the fixture weights loads and reproduces eps', (t) => {
    const fx = new Fixture(unetDir);
    const dir = mkdtempSync(join(tmpdir(), 'diffusers-unet-'));
    try {
      const cfg = pickConfig<UNetConfig>(fx.config, 'unet_config');
      const src = fx.weights(0);
      const rules = diffusersUNetPrefixes(cfg);
      const tensors = new Map<string, { shape: readonly number[]; data: Float32Array }>();
      for (const k of src.keys()) {
        const d = originalToDiffusersUNetKey(k, rules);
        if (!d) return t.fail(`no diffusers name for ${k}`);
        // Round trip; the table names every Upsample child 2 (the view moves it to 1 where there is no attention).
        t.is(diffusersToOriginalUNetKey(d, rules), k.replace(/^(output_blocks\.\d+)\.1\.conv\./, '$1.2.conv.'));
        tensors.set(d, { shape: src.shapeOf(k)!, data: src.data(k) as Float32Array });
      }
      t.true([...tensors.keys()].some((k) => k.startsWith('down_blocks.1.resnets.0.norm1.')));
      t.true([...tensors.keys()].some((k) => k.startsWith('up_blocks.0.upsamplers.0.conv.')));
      const file = join(dir, 'diffusion_pytorch_model.safetensors');
      writeFileSync(file, encodeSafetensors(tensors));
      const w = openWeights(file);
      const unet = loadUNet(cfg, diffusersUNetView(w, cfg));
      const x = fx.inputNhwc('x') as tf.Tensor4D;
      const ctx = fx.input('context') as tf.Tensor3D;
      const y = unetForward(unet, x, Array.from(fx.input('t').dataSync()), ctx);
      const expected = fx.expected('eps');
      const m = tf.tidy(() => tf.max(tf.abs(tf.sub(nhwcToNchw(y), expected))));
      const err = m.dataSync()[0]!;
      t.true(err < fx.manifest.outputs.eps!.atol, `max error ${err}`);
      tf.dispose([x, ctx, y, expected, m]);
      disposeUNet(unet);
      w.close();
    } finally {
      fx.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
