// Autoencoder configs read off the weights, on tiny checkpoints built here with shapes unlike the public fixtures.
import test from 'ava';
import { WeightFileError, recordWeightRequests, syntheticSource, weightsFromSource } from '@stablesr/core';
import {
  type AutoencoderKLConfig,
  autoencoderKLConfigFromWeights,
  disposeAutoencoderKL,
  disposeCfwAutoencoder,
  inferAutoencoderKLFields,
  loadAutoencoderKL,
  loadCfwAutoencoder,
  numFuseBlockFromWeights,
} from '../src/index.js';

/** 3 levels of widths 32, 64, 64, two blocks each, attention at level 1 (resolution 64 → 32), 3 latent channels, no double_z. */
const PLAIN: AutoencoderKLConfig = {
  embed_dim: 3,
  ddconfig: { double_z: false, z_channels: 3, resolution: 64, in_channels: 3, out_ch: 3, ch: 32, ch_mult: [1, 2, 2], num_res_blocks: 2, attn_resolutions: [32], dropout: 0 },
};

const cfwConfig = (numFuseBlock: number): AutoencoderKLConfig => ({
  embed_dim: 4,
  ddconfig: { double_z: true, z_channels: 4, resolution: 64, in_channels: 3, out_ch: 3, ch: 32, ch_mult: [1, 2, 1, 2], num_res_blocks: 1, attn_resolutions: [], dropout: 0, num_fuse_block: numFuseBlock },
});

/** A checkpoint holding exactly the keys and shapes that the loader of `config` reads. */
function checkpointOf(config: AutoencoderKLConfig, cfw: boolean) {
  const keys = cfw ? recordWeightRequests((v) => loadCfwAutoencoder(config, v), disposeCfwAutoencoder) : recordWeightRequests((v) => loadAutoencoderKL(config, v), disposeAutoencoderKL);
  return weightsFromSource(syntheticSource(keys, { origin: 'tiny.safetensors' }));
}

test('a plain autoencoder with another depth, widths, attention level and latent width is read off its keys', (t) => {
  const w = checkpointOf(PLAIN, false);
  const { ddconfig, embed_dim } = inferAutoencoderKLFields(w, 64);
  t.is(embed_dim, 3);
  t.deepEqual(ddconfig, { double_z: false, z_channels: 3, in_channels: 3, out_ch: 3, ch: 32, ch_mult: [1, 2, 2], num_res_blocks: 2, attn_resolutions: [32] });
  t.is(numFuseBlockFromWeights(w), undefined);
  // No config at all: the network the file holds loads strictly (every key used, every shape checked).
  const cfg = autoencoderKLConfigFromWeights(w, undefined, undefined);
  t.deepEqual(cfg, { ...PLAIN, ddconfig: { ...PLAIN.ddconfig, resolution: 512, attn_resolutions: [256] } });
  t.notThrows(() => disposeAutoencoderKL(loadAutoencoderKL(cfg, w)));
});

test('given fields win over the weights; the strict loader still names the key that contradicts them', (t) => {
  const w = checkpointOf(PLAIN, false);
  const cfg = autoencoderKLConfigFromWeights(w, { params: { ddconfig: { resolution: 64, ch_mult: [1, 2, 4] } } });
  t.deepEqual(cfg.ddconfig.ch_mult, [1, 2, 4]);
  t.deepEqual(cfg.ddconfig.attn_resolutions, [32]);
  const e = t.throws(() => loadAutoencoderKL(cfg, w), { instanceOf: WeightFileError });
  t.regex(e.message, /tiny\.safetensors \[encoder\.down\.2\.block\.0\.conv1\.weight\]/);
});

for (const n of [1, 3]) {
  test(`a CFW checkpoint with ${n} RRDB(s) per fusion layer loads under a config that does not say num_fuse_block`, (t) => {
    const cfg = cfwConfig(n);
    const w = checkpointOf(cfg, true);
    t.is(numFuseBlockFromWeights(w), n);
    const { num_fuse_block: _, ...withoutFuse } = cfg.ddconfig;
    // The official autoencoder YAML's ddconfig has no num_fuse_block; the loader reads it off the fusion layers.
    const cfw = loadCfwAutoencoder({ embed_dim: 4, ddconfig: withoutFuse }, w);
    t.is(cfw.decoder.fusionLevels.length, 2);
    for (const level of cfw.decoder.fusionLevels) t.is(cfw.decoder[`fusion_layer_${level}`]!.encode_enc_2.length, n);
    disposeCfwAutoencoder(cfw);
    t.deepEqual(autoencoderKLConfigFromWeights(w, { embed_dim: 4, ddconfig: { ...withoutFuse } }), cfg);
  });
}

test('a CFW config that says another num_fuse_block than the file fails naming the missing or unexpected key', (t) => {
  const w = checkpointOf(cfwConfig(1), true);
  const e = t.throws(() => loadCfwAutoencoder(cfwConfig(2), w), { instanceOf: WeightFileError });
  t.regex(e.message, /\[decoder\.fusion_layer_\d\.encode_enc_2\.1\.rdb1\.conv1\.weight\]: missing key/);
});
