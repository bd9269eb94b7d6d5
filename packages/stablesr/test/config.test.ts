import test from 'ava';
import { parse } from 'yaml';
import { fixtureManifest, requireFixtureOfKind, requireFixtures } from '../../../test/fixtureGate.js';
import { STABLESR_PRESETS, parseStableSRConfig } from '../src/stableSRConfig.js';

// The model part of configs/stableSRNew/v2-finetune_text_T_768v.yaml (official layout, trimmed to what is read).
const OFFICIAL_768V = `
model:
  target: ldm.models.diffusion.ddpm.LatentDiffusionSRTextWT
  params:
    parameterization: "v"
    linear_start: 0.00085
    linear_end: 0.0120
    timesteps: 1000
    image_size: 768
    scale_factor: 0.18215
    unet_config:
      target: ldm.modules.diffusionmodules.openaimodel.UNetModelDualcondV2
      params: { image_size: 32, in_channels: 4, out_channels: 4, model_channels: 320, attention_resolutions: [4, 2, 1], num_res_blocks: 2,
                channel_mult: [1, 2, 4, 4], num_head_channels: 64, use_spatial_transformer: True, use_linear_in_transformer: True,
                transformer_depth: 1, context_dim: 1024, use_checkpoint: False, legacy: False, semb_channels: 256 }
    first_stage_config:
      target: ldm.models.autoencoder.AutoencoderKL
      params:
        embed_dim: 4
        ddconfig: { double_z: true, z_channels: 4, resolution: 768, in_channels: 3, out_ch: 3, ch: 128, ch_mult: [1, 2, 4, 4], num_res_blocks: 2, attn_resolutions: [], dropout: 0.0 }
    cond_stage_config:
      target: ldm.modules.encoders.modules.FrozenOpenCLIPEmbedder
      params: { freeze: True, layer: "penultimate" }
    structcond_stage_config:
      target: ldm.modules.diffusionmodules.openaimodel.EncoderUNetModelWT
      params: { image_size: 96, in_channels: 4, model_channels: 256, out_channels: 256, num_res_blocks: 2, attention_resolutions: [4, 2, 1],
                channel_mult: [1, 1, 2, 2], num_heads: 4, num_head_channels: -1 }
`;

test('official YAML layout parses into the same configuration as the 768v preset', (t) => {
  const c = parseStableSRConfig(parse(OFFICIAL_768V), 'v2-finetune_text_T_768v.yaml');
  const p = STABLESR_PRESETS['768v'];
  t.is(c.parameterization, 'v');
  t.is(c.image_size, 768);
  for (const k of Object.keys(c.unet_config)) t.deepEqual(c.unet_config[k], p.unet_config[k], `unet_config.${k}`);
  for (const k of Object.keys(c.structcond_stage_config)) t.deepEqual(c.structcond_stage_config[k], p.structcond_stage_config[k], `structcond.${k}`);
  t.deepEqual(c.first_stage_config, p.first_stage_config);
  t.deepEqual(c.cond_stage_config, { layer: 'penultimate', arch: 'ViT-H-14', text_cfg: { context_length: 77, vocab_size: 49408, width: 1024, heads: 16, layers: 24 } });
  t.is(STABLESR_PRESETS['512'].parameterization, 'eps');
  t.is(STABLESR_PRESETS['512'].cfw_config.ddconfig.num_fuse_block, 2);
});

const root = requireFixtures('config parsing of the fixture manifests');
const srDir = root && requireFixtureOfKind(root, 'sampler.ddpm-sr');
if (srDir) {
  test('fixture manifests (sections named "x (Class)") parse, with their own text tower and CFW config', (t) => {
    const model = (fixtureManifest(srDir).config as { model: Record<string, unknown> }).model;
    const section = <T>(name: string) => Object.entries(model).find(([k]) => k.startsWith(`${name} (`))![1] as T;
    const c = parseStableSRConfig(model, 'manifest');
    t.is(c.unet_config.model_channels, section<{ model_channels: number }>('unet_config').model_channels);
    t.is(c.cfw_config.ddconfig.num_fuse_block, section<{ ddconfig: { num_fuse_block: number } }>('cfw').ddconfig.num_fuse_block);
    t.is(c.cond_stage_config.text_cfg.width, section<{ open_clip_model_cfg: { text_cfg: { width: number } } }>('cond_stage_config').open_clip_model_cfg.text_cfg.width);
  });
}

test('bad configs are errors naming the field', (t) => {
  t.throws(() => parseStableSRConfig({ parameterization: 'x0' }, 'my.yaml'), { message: /my.yaml: parameterization must be "eps" or "v"/ });
  t.throws(() => parseStableSRConfig({ cond_stage_config: { params: { layer: 'penultimate', arch: 'ViT-bigG-14' }, target: 'x' } }, 'my.yaml'), { message: /unknown open_clip arch "ViT-bigG-14"/ });
  t.throws(() => parseStableSRConfig({ linear_start: 'a' }, 'my.yaml'), { message: /linear_start: expected a number/ });
});
