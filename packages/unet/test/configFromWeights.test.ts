// U-Net configs read off the weights, on tiny checkpoints built here with structures unlike the public fixtures.
import test from 'ava';
import { recordWeightRequests, syntheticSource, weightsFromSource } from '@stablesr/core';
import { type UNetConfig, UNET_DEFAULTS, disposeUNet, inferUNetFields, loadUNet, unetConfigFromWeights } from '../src/index.js';

/** Four levels with per-level depths, attention only at ds 2 and 8, two transformer blocks, conv proj_in, scale-shift norm. */
const DEEP: UNetConfig = {
  in_channels: 5,
  model_channels: 32,
  out_channels: 3,
  num_res_blocks: [1, 2, 1, 3],
  attention_resolutions: [2, 8],
  channel_mult: [1, 2, 1, 2],
  num_head_channels: 16,
  use_spatial_transformer: true,
  transformer_depth: 2,
  context_dim: 24,
  use_linear_in_transformer: false,
  use_scale_shift_norm: true,
  legacy: false,
};

/** Two levels, legacy AttentionBlocks (no cross-attention), ResBlock resampling. */
const LEGACY: UNetConfig = {
  in_channels: 4,
  model_channels: 32,
  out_channels: 4,
  num_res_blocks: 2,
  attention_resolutions: [1],
  channel_mult: [1, 2],
  num_heads: 2,
  resblock_updown: true,
};

/**
 * A checkpoint with exactly the keys the loader of `config` reads. The loader asks for a conv `proj_in` / `proj_out`
 * as the Linear it runs ([out, in]); the file stores the reference's 1×1 conv [out, in, 1, 1].
 */
function checkpointOf(config: UNetConfig) {
  const keys = recordWeightRequests((v) => loadUNet(config, v), disposeUNet);
  if (config.use_spatial_transformer && !config.use_linear_in_transformer) {
    for (const [k, s] of keys) if (/\.proj_(in|out)\.weight$/.test(k)) keys.set(k, [...s, 1, 1]);
  }
  return weightsFromSource(syntheticSource(keys, { origin: 'tiny-unet.safetensors' }));
}

test('levels, per-level depth, attention levels, transformer depth, context_dim and conv proj_in are read off the keys', (t) => {
  const w = checkpointOf(DEEP);
  t.deepEqual(inferUNetFields(w), {
    in_channels: 5,
    model_channels: 32,
    out_channels: 3,
    num_res_blocks: [1, 2, 1, 3],
    channel_mult: [1, 2, 1, 2],
    attention_resolutions: [2, 8],
    conv_resample: true,
    resblock_updown: false,
    use_scale_shift_norm: true,
    use_spatial_transformer: true,
    transformer_depth: 2,
    context_dim: 24,
    use_linear_in_transformer: false,
  });
  // The heads are not in the weights: they come from the base; the network then loads strictly.
  const cfg = unetConfigFromWeights(w, undefined, { ...UNET_DEFAULTS, num_head_channels: 16 } as UNetConfig);
  t.notThrows(() => disposeUNet(loadUNet(cfg, w)));
});

test('a U-Net with legacy attention and ResBlock resampling is read off the keys', (t) => {
  const w = checkpointOf(LEGACY);
  const f = inferUNetFields(w);
  t.deepEqual(
    { ...f },
    { in_channels: 4, model_channels: 32, out_channels: 4, num_res_blocks: 2, channel_mult: [1, 2], attention_resolutions: [1], conv_resample: true, resblock_updown: true, use_scale_shift_norm: false, use_spatial_transformer: false, context_dim: null },
  );
  t.notThrows(() => disposeUNet(loadUNet(unetConfigFromWeights(w, { num_heads: 2 }, { ...UNET_DEFAULTS } as UNetConfig), w)));
});

test('given fields win over the weights', (t) => {
  const w = checkpointOf(DEEP);
  const cfg = unetConfigFromWeights(w, { transformer_depth: 1, context_dim: undefined }, { ...UNET_DEFAULTS, num_head_channels: 16 } as UNetConfig);
  t.is(cfg.transformer_depth, 1);
  t.is(cfg.context_dim, 24);
  t.throws(() => loadUNet(cfg, w), { message: /tiny-unet\.safetensors.*transformer_blocks\.1\./ });
});
