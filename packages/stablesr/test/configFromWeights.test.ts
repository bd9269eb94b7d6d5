// StableSR configs read off the weights, on tiny checkpoints built here (tinyStableSR.ts), unlike the public fixtures.
import test from 'ava';
import { parse } from 'yaml';
import { WeightFileError, recordWeightRequests, syntheticSource, weightsFromSource } from '@stablesr/core';
import { STABLESR_PRESETS } from '../src/stableSRConfig.js';
import { stableSRConfigFromWeights } from '../src/stableSRConfigFromWeights.js';
import { loadSRNetworks } from '../src/srNetworks.js';
import { type EncoderUNetModelWTConfig, disposeTimeAwareEncoder, loadTimeAwareEncoder } from '../src/timeAwareEncoder.js';
import { inferTimeAwareEncoderFields } from '../src/timeAwareEncoderConfigFromWeights.js';
import { TINY_STRUCTCOND, TINY_UNET, TINY_VAE, tinyCfwConfig, tinyCfwKeys, tinyCfwYaml, tinyOfficialYaml, tinyStableSRKeys } from './tinyStableSR.js';

const view = (keys: Map<string, number[]>, origin: string) => weightsFromSource(syntheticSource(keys, { origin }));
const keys = { checkpoint: new Map<string, number[]>(), cfw: new Map<number, Map<string, number[]>>() };
test.before(async () => {
  keys.checkpoint = await tinyStableSRKeys();
  for (const n of [1, 3]) keys.cfw.set(n, await tinyCfwKeys(n));
});
const checkpoint = () => view(keys.checkpoint, 'tiny-sr.safetensors');
const cfwFile = (n: number) => view(keys.cfw.get(n)!, `tiny-cfw-${n}.safetensors`);

test('the time-aware encoder with ResBlock downsampling, scale-shift norm and other widths is read off its keys', (t) => {
  const cfg: EncoderUNetModelWTConfig = { ...TINY_STRUCTCOND, channel_mult: [1, 2, 2], num_res_blocks: 2, resblock_updown: true, use_scale_shift_norm: true, attention_resolutions: [1, 4] };
  const w = view(recordWeightRequests((v) => loadTimeAwareEncoder(cfg, v), disposeTimeAwareEncoder), 'enc.safetensors');
  t.deepEqual(inferTimeAwareEncoderFields(w), {
    in_channels: 4,
    model_channels: 32,
    out_channels: 64,
    num_res_blocks: 2,
    channel_mult: [1, 2, 2],
    attention_resolutions: [1, 4],
    conv_resample: true,
    resblock_updown: true,
    use_scale_shift_norm: true,
  });
});

test('a StableSR checkpoint with no config builds the network it holds (the 512 preset gives only what the weights cannot)', async (t) => {
  const c = stableSRConfigFromWeights({}, checkpoint(), cfwFile(3));
  const pick = (o: Record<string, unknown>, keys: readonly string[]) => Object.fromEntries(keys.map((k) => [k, o[k]]));
  const unetKeys = ['in_channels', 'model_channels', 'out_channels', 'num_res_blocks', 'channel_mult', 'attention_resolutions', 'transformer_depth', 'context_dim', 'use_linear_in_transformer', 'semb_channels'];
  t.deepEqual(pick(c.unet_config, unetKeys), pick(TINY_UNET as unknown as Record<string, unknown>, unetKeys));
  t.is(c.unet_config.num_head_channels, STABLESR_PRESETS['512'].unet_config.num_head_channels);
  const encKeys = ['in_channels', 'model_channels', 'out_channels', 'num_res_blocks', 'channel_mult', 'attention_resolutions'];
  t.deepEqual(pick(c.structcond_stage_config, encKeys), pick(TINY_STRUCTCOND as unknown as Record<string, unknown>, encKeys));
  t.deepEqual(c.first_stage_config.ddconfig.ch_mult, TINY_VAE.ddconfig.ch_mult);
  t.is(c.cfw_config.ddconfig.num_fuse_block, 3);
  // What no weight shape shows stays the preset's: the 768-v model needs its preset or a config.
  t.is(c.parameterization, 'eps');
  const nets = await loadSRNetworks(c, checkpoint(), cfwFile(3));
  t.is(nets.unet.input_blocks.length, 1 + 2 * 2 + 1);
  nets.dispose();
});

for (const n of [1, 3]) {
  test(`an official-layout YAML without a CFW section loads a CFW file with ${n} RRDB(s) per fusion layer`, async (t) => {
    const c = stableSRConfigFromWeights({ config: parse(tinyOfficialYaml()), source: 'tiny.yaml' }, checkpoint(), cfwFile(n));
    t.deepEqual(c.cfw_config, tinyCfwConfig(n));
    const nets = await loadSRNetworks(c, checkpoint(), cfwFile(n));
    t.truthy(nets.models.cfw);
    t.is(nets.vae.modules.cfw!.decoder.fusion_layer_1!.encode_enc_2.length, n);
    nets.dispose();
  });
}

test('a separate CFW YAML (official autoencoder layout) is read; without num_fuse_block the file says it', (t) => {
  const c = stableSRConfigFromWeights({ config: parse(tinyOfficialYaml()), cfwConfig: parse(tinyCfwYaml()), cfwSource: 'resi.yaml' }, checkpoint(), cfwFile(1));
  t.deepEqual(c.cfw_config, tinyCfwConfig(1));
});

test('a CFW YAML whose num_fuse_block contradicts the file fails naming the key and the file', async (t) => {
  const c = stableSRConfigFromWeights({ config: parse(tinyOfficialYaml()), cfwConfig: parse(tinyCfwYaml(2)), cfwSource: 'resi.yaml' }, checkpoint(), cfwFile(1));
  t.is(c.cfw_config.ddconfig.num_fuse_block, 2);
  const e = await t.throwsAsync(loadSRNetworks(c, checkpoint(), cfwFile(1)), { instanceOf: WeightFileError });
  t.regex(e!.message, /tiny-cfw-1\.safetensors \[decoder\.fusion_layer_\d\.encode_enc_2\.1\.rdb1\.conv1\.weight\]: missing key/);
});
