import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TensorToWrite, WeightFileError, encodeSafetensors, openWeights } from '@stablesr/core';
import { AUTOENCODER_KL_DEFAULTS, type AutoencoderKLConfig, autoencoderConfigFromDiffusers, parseAutoencoderKLConfig, decode, diffusersToCheckpointKey, diffusersVaeView, disposeAutoencoderKL, encode, disposeEncodeResult, loadAutoencoderKL } from '../src/index.js';
import { fixtureManifest, fixtureTests, fixtureWeightFile, manifestSection, requireFixtureOfKind, requireFixtures } from '../../../test/fixtureGate.js';
import { maxDiff, randomTensor } from './helpers.js';

const root = requireFixtures('diffusers VAE folders against the tiny fixture model');
const encDir = root && requireFixtureOfKind(root, 'vae.encode');
// The fixture model's file and first-stage config, as the vae.encode manifest names them.
const SR = encDir ? fixtureWeightFile(encDir) : '';
const CONFIG: AutoencoderKLConfig = encDir ? parseAutoencoderKLConfig(manifestSection(fixtureManifest(encDir).config, 'first_stage_config'), 'vae.encode manifest') : AUTOENCODER_KL_DEFAULTS;

test('diffusers keys map to the LDM checkpoint keys', (t) => {
  const cases: [string, string][] = [
    ['encoder.down_blocks.0.resnets.0.conv1.weight', 'encoder.down.0.block.0.conv1.weight'],
    ['encoder.down_blocks.1.resnets.0.conv_shortcut.bias', 'encoder.down.1.block.0.nin_shortcut.bias'],
    ['encoder.down_blocks.2.downsamplers.0.conv.weight', 'encoder.down.2.downsample.conv.weight'],
    ['encoder.mid_block.resnets.1.norm2.weight', 'encoder.mid.block_2.norm2.weight'],
    ['encoder.mid_block.attentions.0.to_q.weight', 'encoder.mid.attn_1.q.weight'],
    ['decoder.mid_block.attentions.0.group_norm.bias', 'decoder.mid.attn_1.norm.bias'],
    ['decoder.mid_block.attentions.0.to_out.0.weight', 'decoder.mid.attn_1.proj_out.weight'],
    ['decoder.mid_block.attentions.0.proj_attn.bias', 'decoder.mid.attn_1.proj_out.bias'],
    ['decoder.up_blocks.0.resnets.2.conv2.weight', 'decoder.up.3.block.2.conv2.weight'],
    ['decoder.up_blocks.3.resnets.0.norm1.bias', 'decoder.up.0.block.0.norm1.bias'],
    ['decoder.up_blocks.1.upsamplers.0.conv.bias', 'decoder.up.2.upsample.conv.bias'],
    ['decoder.conv_norm_out.weight', 'decoder.norm_out.weight'],
    ['encoder.conv_in.weight', 'encoder.conv_in.weight'],
    ['post_quant_conv.bias', 'post_quant_conv.bias'],
  ];
  for (const [d, c] of cases) t.is(diffusersToCheckpointKey(d, 4), c, d);
});

/** The test's own (inverse) renaming, written independently of the table under test. */
function checkpointToDiffusers(key: string, levels: number): string {
  const attnLeaf = (s: string) => s.replace(/^norm\./, 'group_norm.').replace(/^q\./, 'to_q.').replace(/^k\./, 'to_k.').replace(/^v\./, 'to_v.').replace(/^proj_out\./, 'to_out.0.');
  let m: RegExpExecArray | null;
  if ((m = /^encoder\.down\.(\d+)\.block\.(\d+)\.(.+)$/.exec(key))) return `encoder.down_blocks.${m[1]}.resnets.${m[2]}.${m[3]!.replace('nin_shortcut', 'conv_shortcut')}`;
  if ((m = /^encoder\.down\.(\d+)\.downsample\.(.+)$/.exec(key))) return `encoder.down_blocks.${m[1]}.downsamplers.0.${m[2]}`;
  if ((m = /^decoder\.up\.(\d+)\.block\.(\d+)\.(.+)$/.exec(key))) return `decoder.up_blocks.${levels - 1 - Number(m[1])}.resnets.${m[2]}.${m[3]!.replace('nin_shortcut', 'conv_shortcut')}`;
  if ((m = /^decoder\.up\.(\d+)\.upsample\.(.+)$/.exec(key))) return `decoder.up_blocks.${levels - 1 - Number(m[1])}.upsamplers.0.${m[2]}`;
  if ((m = /^(encoder|decoder)\.mid\.block_(\d)\.(.+)$/.exec(key))) return `${m[1]}.mid_block.resnets.${Number(m[2]) - 1}.${m[3]}`;
  if ((m = /^(encoder|decoder)\.mid\.attn_1\.(.+)$/.exec(key))) return `${m[1]}.mid_block.attentions.0.${attnLeaf(m[2]!)}`;
  if ((m = /^(encoder|decoder)\.norm_out\.(.+)$/.exec(key))) return `${m[1]}.conv_norm_out.${m[2]}`;
  return key;
}

const { serial: fxSerial } = fixtureTests(encDir);
fxSerial('a diffusers-style VAE loads through the adapter and equals the checkpoint-key load', (t) => {
  const ckpt = openWeights(SR);
  const view = ckpt.scope('first_stage_model.');
  const tensors = new Map<string, TensorToWrite>();
  for (const k of view.keys()) {
    const shape = [...view.shapeOf(k)!];
    // diffusers' attention projections are nn.Linear: [C, C] instead of [C, C, 1, 1].
    const linear = /attn_1\.(q|k|v|proj_out)\.weight$/.test(k);
    tensors.set(checkpointToDiffusers(k, 4), { shape: linear ? shape.slice(0, 2) : shape, data: view.data(k) as Float32Array });
  }
  t.true([...tensors.keys()].includes('decoder.mid_block.attentions.0.to_q.weight'));
  t.deepEqual(tensors.get('decoder.mid_block.attentions.0.to_q.weight')!.shape, [32, 32]);
  const dir = mkdtempSync(join(tmpdir(), 'vae-diffusers-'));
  const file = join(dir, 'diffusion_pytorch_model.safetensors');
  writeFileSync(file, encodeSafetensors(tensors));
  const dw = openWeights(file);
  try {
    const adapted = diffusersVaeView(dw);
    t.deepEqual(adapted.shapeOf('decoder.mid.attn_1.q.weight'), [32, 32, 1, 1]);
    const a = loadAutoencoderKL(CONFIG, adapted);
    t.deepEqual(adapted.unusedKeys(), []);
    const b = loadAutoencoderKL(CONFIG, view);
    const z = randomTensor([1, 4, 6, 4], 1);
    const da = decode(a, z);
    const db = decode(b, z);
    t.is(maxDiff(da, db).maxAbs, 0);
    const x = tf.tidy(() => tf.tanh(randomTensor([1, 32, 16, 3], 2)));
    const ea = encode(a, x);
    const eb = encode(b, x);
    t.is(maxDiff(ea.moments, eb.moments).maxAbs, 0);
    tf.dispose([z, da, db, x]);
    disposeEncodeResult(ea);
    disposeEncodeResult(eb);
    disposeAutoencoderKL(a);
    disposeAutoencoderKL(b);
    // A config that does not fit names the checkpoint key the adapter was asked for.
    t.throws(() => loadAutoencoderKL({ ...CONFIG, ddconfig: { ...CONFIG.ddconfig, ch: 64 } }, diffusersVaeView(dw)), {
      instanceOf: WeightFileError,
      message: /\[encoder\.conv_in\.weight\]: shape \[32, 3, 3, 3\] \(diffusers encoder\.conv_in\.weight\) does not match the expected \[64, 3, 3, 3\]/,
    });
  } finally {
    dw.close();
    ckpt.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('diffusers config.json becomes the reference config', (t) => {
  const { config, scaleFactor } = autoencoderConfigFromDiffusers({
    in_channels: 3,
    out_channels: 3,
    block_out_channels: [128, 256, 512, 512],
    layers_per_block: 2,
    latent_channels: 4,
    sample_size: 768,
    norm_num_groups: 32,
    down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D'],
    scaling_factor: 0.18215,
  });
  t.deepEqual(config.ddconfig.ch_mult, [1, 2, 4, 4]);
  t.is(config.ddconfig.ch, 128);
  t.is(config.ddconfig.num_res_blocks, 2);
  t.deepEqual(config.ddconfig.attn_resolutions, []);
  t.is(config.embed_dim, 4);
  t.is(scaleFactor, 0.18215);
  t.throws(() => autoencoderConfigFromDiffusers({ block_out_channels: [128, 200], layers_per_block: 1, latent_channels: 4 }), { message: /not multiples of the first/ });
});
