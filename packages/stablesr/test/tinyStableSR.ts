// Tiny StableSR checkpoints built in the test, with structures unlike the public fixtures (sr-a: model_channels 32,
// channel_mult [1,1,1], one block per level, transformer depth 1, one RRDB per fusion layer): written from the loaders'
// own key lists (checkpointShapes), so that config inference and loading are checked on files nobody hand-wrote.
// (tinyCheckpoint.ts writes another tiny model, for the recipes; this one differs in depth, widths and fuse blocks.)
import { parse } from 'yaml';
import { syntheticSource, writeSafetensors } from '@stablesr/core';
import { type AutoencoderKLConfig } from '@stablesr/vae';
import { type OpenClipTextCfg } from '@stablesr/unet';
import { type CheckpointPart, checkpointShapes } from '../src/checkpointShapes.js';
import { type StableSRConfig, parseStableSRConfig } from '../src/stableSRConfig.js';
import { type EncoderUNetModelWTConfig } from '../src/timeAwareEncoder.js';
import { type UNetModelDualcondV2Config } from '../src/unetModelDualcondV2.js';

/**
 * Two U-Net levels of widths 64 and 128 (so the 512 preset's 64 head channels fit), two ResBlocks per level,
 * attention only at the lower resolution, two transformer blocks; the time-aware encoder matches its levels.
 */
export const TINY_UNET: UNetModelDualcondV2Config = {
  image_size: 16,
  in_channels: 4,
  out_channels: 4,
  model_channels: 64,
  attention_resolutions: [2],
  num_res_blocks: 2,
  channel_mult: [1, 2],
  num_head_channels: 64,
  use_spatial_transformer: true,
  use_linear_in_transformer: true,
  transformer_depth: 2,
  context_dim: 16,
  legacy: false,
  semb_channels: 64,
};

export const TINY_STRUCTCOND: EncoderUNetModelWTConfig = {
  image_size: 96,
  in_channels: 4,
  model_channels: 32,
  out_channels: 64,
  num_res_blocks: 1,
  attention_resolutions: [2],
  channel_mult: [1, 2],
  num_heads: 4,
  num_head_channels: -1,
};

export const TINY_VAE: AutoencoderKLConfig = {
  embed_dim: 4,
  ddconfig: { double_z: true, z_channels: 4, resolution: 64, in_channels: 3, out_ch: 3, ch: 32, ch_mult: [1, 1, 2, 2], num_res_blocks: 1, attn_resolutions: [], dropout: 0 },
};

export const TINY_TEXT: OpenClipTextCfg = { context_length: 77, vocab_size: 49408, width: 16, heads: 2, layers: 2 };

/** The CFW autoencoder of {@link TINY_VAE} with `numFuseBlock` RRDBs per fusion layer. */
export const tinyCfwConfig = (numFuseBlock: number): AutoencoderKLConfig => ({ embed_dim: 4, ddconfig: { ...TINY_VAE.ddconfig, num_fuse_block: numFuseBlock } });

/** The tiny model as a parsed configuration (its CFW with `numFuseBlock` RRDBs per fusion layer). */
function tinyConfig(numFuseBlock = 1): StableSRConfig {
  return { ...parseStableSRConfig(parse(tinyOfficialYaml()), 'tiny.yaml'), cfw_config: tinyCfwConfig(numFuseBlock) as unknown as StableSRConfig['cfw_config'] };
}

const shapesOf = async (config: StableSRConfig, parts: CheckpointPart[]) => new Map((await Promise.all(parts.map((p) => checkpointShapes(config, p)))).flatMap((m) => [...m]));

/** Key → stored shape of a StableSR checkpoint with the tiny networks (text tower under `cond_stage_model.`). */
export function tinyStableSRKeys(): Promise<Map<string, number[]>> {
  return shapesOf(tinyConfig(), ['unet', 'structcond', 'vae', 'text']);
}

/** Key → stored shape of a CFW autoencoder file (no prefix) with `numFuseBlock` RRDBs per fusion layer. */
export function tinyCfwKeys(numFuseBlock: number): Promise<Map<string, number[]>> {
  return shapesOf(tinyConfig(numFuseBlock), ['cfw']);
}

/** Writes the keys as a safetensors file of deterministic random values (the fixtures' initialisation scale). */
export async function writeTinySafetensors(path: string, keys: ReadonlyMap<string, number[]>, seed: number): Promise<void> {
  await writeSafetensors(syntheticSource(keys, { seed }), path);
}

/**
 * The official `v2-finetune_text_T_512.yaml` layout for the tiny model: `model.params.*` sections and no CFW
 * section (StableSR keeps the CFW config in a separate file, {@link tinyCfwYaml}).
 */
export function tinyOfficialYaml(): string {
  const j = (o: unknown) => JSON.stringify(o);
  return `model:
  target: ldm.models.diffusion.ddpm.LatentDiffusionSRTextWT
  params:
    parameterization: eps
    linear_start: 0.00085
    linear_end: 0.012
    timesteps: 1000
    scale_factor: 0.18215
    image_size: 64
    unet_config:
      target: ldm.modules.diffusionmodules.openaimodel.UNetModelDualcondV2
      params: ${j(TINY_UNET)}
    first_stage_config:
      target: ldm.models.autoencoder.AutoencoderKL
      params: ${j(TINY_VAE)}
    cond_stage_config:
      target: ldm.modules.encoders.modules.FrozenOpenCLIPEmbedder
      params: { freeze: true, layer: penultimate, arch: tiny, open_clip_model_cfg: { text_cfg: ${j(TINY_TEXT)} } }
    structcond_stage_config:
      target: ldm.modules.diffusionmodules.openaimodel.EncoderUNetModelWT
      params: ${j(TINY_STRUCTCOND)}
`;
}

/**
 * `configs/autoencoder/autoencoder_kl_64x64x4_resi.yaml`'s layout (`model.params.{embed_dim, ddconfig}` beside the
 * training-only fields); `numFuseBlock` undefined leaves it out, as the released file does.
 */
export function tinyCfwYaml(numFuseBlock?: number): string {
  const dd = { ...TINY_VAE.ddconfig, ...(numFuseBlock !== undefined ? { num_fuse_block: numFuseBlock } : {}) };
  return `model:
  base_learning_rate: 5.0e-5
  target: ldm.models.autoencoder.AutoencoderKLResi
  params:
    monitor: val/rec_loss
    embed_dim: 4
    fusion_w: 1.0
    freeze_dec: true
    lossconfig: { target: ldm.modules.losses.LPIPSWithDiscriminator, params: { disc_start: 501, kl_weight: 0 } }
    ddconfig: ${JSON.stringify(dd)}
`;
}
