// Tiny StableSR checkpoints of any configuration, written by the test that needs them: the key list comes from
// each part's own loader (checkpointShapes), the values from syntheticSource (the fixtures' initialisation rule).
import { syntheticSource, writeSafetensors } from '@stablesr/core';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CheckpointPart, checkpointShapes } from '../src/checkpointShapes.js';
import { type StableSRConfig, parseStableSRConfig } from '../src/stableSRConfig.js';

export interface TinyOptions {
  /** VAE `ch_mult` length − 1 = log2 of its downsampling (3: f = 8 like the released VAE; 2: f = 4). */
  vaeLevels: number;
  /** The LatentDiffusion `image_size` (the default input size). */
  imageSize: number;
}

/**
 * An official-layout configuration (`model.params.*`) of a tiny StableSR: 32-channel U-Net and time-aware encoder
 * with two levels (U-Net downsampling 2), a 32-channel VAE with `vaeLevels` downsamplings, a 2-block text tower.
 */
export function tinyOfficialConfig(o: TinyOptions): Record<string, unknown> {
  const ddconfig = { double_z: true, z_channels: 4, resolution: o.imageSize, in_channels: 3, out_ch: 3, ch: 32, ch_mult: Array(o.vaeLevels + 1).fill(1), num_res_blocks: 1, attn_resolutions: [], dropout: 0 };
  const levels = { model_channels: 32, channel_mult: [1, 1], num_res_blocks: 1, attention_resolutions: [2, 1] };
  return {
    model: {
      target: 'ldm.models.diffusion.ddpm.LatentDiffusionSRTextWT',
      params: {
        parameterization: 'eps', linear_start: 0.00085, linear_end: 0.012, timesteps: 1000, scale_factor: 0.18215, image_size: o.imageSize,
        unet_config: { target: 'ldm.modules.diffusionmodules.openaimodel.UNetModelDualcondV2', params: { image_size: 32, in_channels: 4, out_channels: 4, ...levels, num_head_channels: 16, use_spatial_transformer: true, use_linear_in_transformer: true, transformer_depth: 1, context_dim: 16, legacy: false, semb_channels: 32 } },
        first_stage_config: { target: 'ldm.models.autoencoder.AutoencoderKL', params: { embed_dim: 4, ddconfig } },
        cond_stage_config: { target: 'ldm.modules.encoders.modules.FrozenOpenCLIPEmbedder', params: { layer: 'penultimate', open_clip_model_cfg: { embed_dim: 16, text_cfg: { context_length: 77, vocab_size: 49408, width: 16, heads: 2, layers: 2 } } } },
        structcond_stage_config: { target: 'ldm.modules.diffusionmodules.openaimodel.EncoderUNetModelWT', params: { image_size: 96, in_channels: 4, ...levels, out_channels: 32, num_heads: 4, num_head_channels: -1 } },
        cfw_config: { target: 'ldm.models.autoencoder.AutoencoderKLResi', params: { embed_dim: 4, ddconfig: { ...ddconfig, num_fuse_block: 1 } } },
      },
    },
  };
}

export interface TinyCheckpoint {
  dir: string;
  /** The configuration as a JSON file (official layout). */
  configFile: string;
  config: StableSRConfig;
  /** `model.diffusion_model.*`, `structcond_stage_model.*`, `first_stage_model.*`, `cond_stage_model.*`. */
  checkpoint: string;
  /** `encoder.*`, `decoder.*` with the fusion layers. */
  cfw: string;
}

/** Writes the checkpoint and CFW file of {@link tinyOfficialConfig} into a new temp folder. */
export async function writeTinyCheckpoint(o: TinyOptions): Promise<TinyCheckpoint> {
  const dir = mkdtempSync(join(tmpdir(), 'stablesr-tiny-'));
  const official = tinyOfficialConfig(o);
  const configFile = join(dir, 'tiny.json');
  writeFileSync(configFile, JSON.stringify(official));
  const config = parseStableSRConfig(official, configFile);
  const shapes = async (parts: CheckpointPart[]) => (await Promise.all(parts.map((p) => checkpointShapes(config, p)))).flatMap((m) => [...m]);
  const checkpoint = join(dir, 'stablesr.safetensors');
  const cfw = join(dir, 'cfw.safetensors');
  await writeSafetensors(syntheticSource(await shapes(['unet', 'structcond', 'vae', 'text']), { seed: 1, origin: 'tiny StableSR' }), checkpoint);
  await writeSafetensors(syntheticSource(await shapes(['cfw']), { seed: 2, origin: 'tiny CFW' }), cfw);
  return { dir, configFile, config, checkpoint, cfw };
}
