// ConditionalUNet on a configuration unlike the fixture's (other nf, depth, channel counts, odd sizes, a batch of
// distinct timesteps), with synthetic weights: tfjs and onnxruntime agree, the timestep path matters, loads are strict.
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { SeededNoise, WeightFileError, recordWeightRequests, resolveEngine, syntheticSource, weightsFromSource } from '@stablesr/core';
import { type ConditionalUNetConfig, compileConditionalUNet, conditionalUNetConfigFromWeights, disposeConditionalUNet, loadConditionalUNet } from '../src/index.js';

const config: ConditionalUNetConfig = { in_nc: 1, out_nc: 2, nf: 4, depth: 2 };
const keys = recordWeightRequests((v) => loadConditionalUNet(config, v), disposeConditionalUNet);

const maxAbs = (a: tf.Tensor, b: tf.Tensor): number => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);

test.serial('the key tree is the state dict of the reference module', (t) => {
  // Spot checks of DenoisingUNet_arch.py's names: ups inserted in reverse, Upsample a Sequential, no bias on default_conv.
  for (const k of ['init_conv.weight', 'time_mlp.1.weight', 'time_mlp.3.bias', 'downs.0.0.mlp.1.weight', 'downs.0.2.fn.norm.g', 'downs.0.2.fn.fn.to_out.1.g', 'downs.0.3.bias', 'downs.1.3.weight', 'ups.0.3.1.weight', 'ups.1.3.weight', 'ups.0.0.res_conv.weight', 'mid_attn.fn.fn.to_qkv.weight', 'final_res_block.res_conv.weight', 'final_conv.bias']) {
    t.true(keys.has(k), k);
  }
  for (const k of ['init_conv.bias', 'downs.1.3.bias', 'ups.1.3.bias', 'downs.0.0.block1.proj.bias', 'downs.0.0.res_conv.weight']) t.false(keys.has(k), k);
  t.deepEqual(keys.get('init_conv.weight'), [4, 2, 7, 7]);
  t.deepEqual(keys.get('downs.0.3.weight'), [8, 4, 4, 4]);
  t.deepEqual(keys.get('ups.0.0.block1.proj.weight'), [16, 24, 3, 3]);
  t.deepEqual(keys.get('mid_block1.mlp.1.weight'), [32, 16]);
});

test.serial('tfjs and onnxruntime agree on an odd-sized batch with distinct timesteps; the timestep changes the output', async (t) => {
  const net = loadConditionalUNet(config, weightsFromSource(syntheticSource(keys, { seed: 7 })));
  const noise = new SeededNoise(2);
  const xt = noise.draw([2, 13, 19, 1]) as tf.Tensor4D;
  const cond = noise.draw([2, 13, 19, 1]) as tf.Tensor4D;
  const tfjs = compileConditionalUNet(net, await resolveEngine({ engine: 'tfjs' }));
  const ort = compileConditionalUNet(net, await resolveEngine({ engine: 'onnxruntime', threads: 1 }));
  const before = tf.memory().numTensors;
  const a = await tfjs.run(xt, cond, [3, 90]);
  const b = await ort.run(xt, cond, [3, 90]);
  t.deepEqual(a.shape, [2, 13, 19, 2]);
  const mag = tf.tidy(() => tf.max(tf.abs(a)).dataSync()[0]!);
  t.true(mag > 1e-3, `output magnitude ${mag}`);
  t.true(maxAbs(a, b) <= 1e-5 * Math.max(1, mag), `tfjs vs onnxruntime max |Δ| ${maxAbs(a, b)} (max |y| ${mag})`);
  const c = await tfjs.run(xt, cond, [4, 90]);
  const rows = (x: tf.Tensor, i: number): tf.Tensor => tf.slice(x, [i], [1]);
  t.true(tf.tidy(() => maxAbs(rows(a, 0), rows(c, 0))) > 1e-4 * mag, 'changing t of sample 0 changes its output');
  t.is(tf.tidy(() => maxAbs(rows(a, 1), rows(c, 1))), 0, 'and not the other sample');
  tf.dispose([a, b, c]);
  t.is(tf.memory().numTensors, before, 'tensors leaked across calls');
  await ort.network.dispose();
  tf.dispose([xt, cond]);
  disposeConditionalUNet(net);
});

test.serial('loading is strict: a missing, unexpected or mis-shaped key is an error naming it', (t) => {
  const without = new Map(keys);
  without.delete('mid_attn.fn.norm.g');
  t.throws(() => loadConditionalUNet(config, weightsFromSource(syntheticSource(without))), { instanceOf: WeightFileError, message: /mid_attn\.fn\.norm\.g/ });
  const extra = new Map(keys).set('downs.0.3.extra', [3]);
  t.throws(() => loadConditionalUNet(config, weightsFromSource(syntheticSource(extra))), { message: /downs\.0\.3\.extra/ });
  const bad = new Map(keys).set('final_conv.weight', [2, 4, 5, 5]);
  t.throws(() => loadConditionalUNet(config, weightsFromSource(syntheticSource(bad))), { message: /final_conv\.weight/ });
  t.throws(() => loadConditionalUNet({ ...config, nf: 0 }, weightsFromSource(syntheticSource(keys))), { message: /nf must be a positive integer/ });
});

test.serial('the configuration is read off the state dict (in_nc, out_nc, nf, depth), and given values win', (t) => {
  for (const cfg of [config, { in_nc: 3, out_nc: 3, nf: 8, depth: 3 }]) {
    const view = weightsFromSource(syntheticSource(recordWeightRequests((v) => loadConditionalUNet(cfg, v), disposeConditionalUNet)));
    t.deepEqual(conditionalUNetConfigFromWeights(view), cfg);
    // The inferred config loads the file strictly.
    disposeConditionalUNet(loadConditionalUNet(conditionalUNetConfigFromWeights(view), view));
  }
  const view = weightsFromSource(syntheticSource(keys));
  t.is(conditionalUNetConfigFromWeights(view, { depth: 3 }).depth, 3);
  t.throws(() => loadConditionalUNet(conditionalUNetConfigFromWeights(view, { depth: 3 }), view), { message: /downs\.2|missing|unexpected/ });
  const noInit = new Map([...keys].filter(([k]) => k !== 'init_conv.weight'));
  t.throws(() => conditionalUNetConfigFromWeights(weightsFromSource(syntheticSource(noInit))), { message: /init_conv\.weight/ });
});
