import { configNumber as num, ldmModelParams, ldmSection } from '@stablesr/core';
import { OPEN_CLIP_TEXT_ARCHS, type OpenClipTextCfg, SD2_AUTOENCODER_CONFIG, SD2_UNET_CONFIG, readConfigFile } from '@stablesr/unet';

/**
 * The model configuration of a StableSR checkpoint, in the layout of the official YAML
 * (`model.params.{unet_config, first_stage_config, cond_stage_config, structcond_stage_config}`):
 * each section holds the reference constructor's `params`, snake_case, unchanged.
 */
export interface StableSRConfig {
  /** `eps` (512 model) or `v` (768-v model). */
  parameterization: 'eps' | 'v';
  linear_start: number;
  linear_end: number;
  timesteps: number;
  scale_factor: number;
  /** Training crop size: also the default `input_size` of the inference scripts (512 / 768). */
  image_size: number;
  /** `UNetModelDualcondV2` params. */
  unet_config: Record<string, unknown>;
  /** `AutoencoderKL` params (`embed_dim`, `ddconfig`). */
  first_stage_config: { embed_dim: number; ddconfig: Record<string, unknown> };
  /** `FrozenOpenCLIPEmbedder` params plus the open_clip text tower shape. */
  cond_stage_config: { layer: 'last' | 'penultimate'; arch: string; text_cfg: OpenClipTextConfig };
  /** `EncoderUNetModelWT` params. */
  structcond_stage_config: Record<string, unknown>;
  /** CFW autoencoder (`AutoencoderKLResi`, configs/autoencoder/autoencoder_kl_64x64x4_resi.yaml). */
  cfw_config: { embed_dim: number; ddconfig: Record<string, unknown> };
}

/** open_clip `text_cfg`. */
export type OpenClipTextConfig = OpenClipTextCfg;

/** SD 2.x's U-Net plus StableSR's SPADE conditioning width (`UNetModelDualcondV2`). */
const UNET_DUALCOND_V2 = { ...SD2_UNET_CONFIG, use_checkpoint: false, semb_channels: 256 };

const STRUCTCOND = {
  image_size: 96,
  in_channels: 4,
  model_channels: 256,
  out_channels: 256,
  num_res_blocks: 2,
  attention_resolutions: [4, 2, 1],
  dropout: 0,
  channel_mult: [1, 1, 2, 2],
  conv_resample: true,
  dims: 2,
  use_checkpoint: false,
  use_fp16: false,
  num_heads: 4,
  num_head_channels: -1,
  num_heads_upsample: -1,
  use_scale_shift_norm: false,
  resblock_updown: false,
  use_new_attention_order: false,
};

function preset(parameterization: 'eps' | 'v', imageSize: number): StableSRConfig {
  return {
    parameterization,
    linear_start: 0.00085,
    linear_end: 0.012,
    timesteps: 1000,
    scale_factor: 0.18215,
    image_size: imageSize,
    unet_config: { ...UNET_DUALCOND_V2 },
    // The released YAMLs give the autoencoders `resolution: 512` (it only places `attn_resolutions`, empty here).
    first_stage_config: { embed_dim: 4, ddconfig: { ...SD2_AUTOENCODER_CONFIG.ddconfig, resolution: imageSize } },
    cond_stage_config: { layer: 'penultimate', arch: 'ViT-H-14', text_cfg: OPEN_CLIP_TEXT_ARCHS['ViT-H-14']! },
    structcond_stage_config: { ...STRUCTCOND },
    // The released CFW config (num_fuse_block: Decoder_Mix default 2).
    cfw_config: { embed_dim: 4, ddconfig: { ...SD2_AUTOENCODER_CONFIG.ddconfig, resolution: 512, num_fuse_block: 2 } },
  };
}

/**
 * Built-in presets of the released models: `512` = `stablesr_000117.ckpt` (v2-1_512 based, ε-prediction,
 * configs/stableSRNew/v2-finetune_text_T_512.yaml), `768v` = `stablesr_768v_000139.ckpt` (v-prediction,
 * v2-finetune_text_T_768v.yaml). Both use `vqgan_cfw_00011.ckpt` as CFW autoencoder.
 */
export const STABLESR_PRESETS: Readonly<Record<'512' | '768v', StableSRConfig>> = {
  '512': preset('eps', 512),
  '768v': preset('v', 768),
};
export type StableSRPreset = keyof typeof STABLESR_PRESETS;

/**
 * Reads a StableSR model configuration from a parsed YAML / JSON object: the official layout
 * (`model: {target, params: {unet_config: {target, params}, …}}`), its `model.params` alone, or a fixture
 * manifest's `config.model` (sections named `"unet_config (UNetModelDualcondV2)"`). Missing sections
 * fall back to `base` (default: the 512 preset); `source` names the file in errors.
 */
export function parseStableSRConfig(raw: unknown, source = 'config', base: StableSRConfig = STABLESR_PRESETS['512']): StableSRConfig {
  const obj = ldmModelParams(raw, source);
  const p = (name: string) => ldmSection(obj, name)?.params;
  const param = obj.parameterization ?? base.parameterization;
  if (param !== 'eps' && param !== 'v') throw new Error(`${source}: parameterization must be "eps" or "v", got ${JSON.stringify(param)}`);
  const unet = p('unet_config');
  const first = p('first_stage_config');
  const struct = p('structcond_stage_config');
  const condRaw = p('cond_stage_config');
  const cfw = p('cfw') ?? p('cfw_config');
  const layer = (condRaw?.layer ?? base.cond_stage_config.layer) as string;
  if (layer !== 'last' && layer !== 'penultimate') throw new Error(`${source}: cond_stage_config.layer must be "last" or "penultimate", got ${JSON.stringify(layer)}`);
  const arch = typeof condRaw?.arch === 'string' ? condRaw.arch : base.cond_stage_config.arch;
  const clipCfg = condRaw?.open_clip_model_cfg as { text_cfg?: OpenClipTextConfig } | undefined;
  // `text_cfg` directly in the section: a StableSRConfig object passed back in.
  const textCfg = clipCfg?.text_cfg ?? (condRaw?.text_cfg as OpenClipTextConfig | undefined) ?? OPEN_CLIP_TEXT_ARCHS[arch] ?? (condRaw ? undefined : base.cond_stage_config.text_cfg);
  if (!textCfg) throw new Error(`${source}: unknown open_clip arch "${arch}" (known: ${Object.keys(OPEN_CLIP_TEXT_ARCHS).join(', ')}); give cond_stage_config.open_clip_model_cfg.text_cfg`);
  const firstStage = (first ?? base.first_stage_config) as StableSRConfig['first_stage_config'];
  return {
    parameterization: param,
    linear_start: num(obj.linear_start, `${source}: linear_start`, base.linear_start),
    linear_end: num(obj.linear_end, `${source}: linear_end`, base.linear_end),
    timesteps: num(obj.timesteps, `${source}: timesteps`, base.timesteps),
    scale_factor: num(obj.scale_factor, `${source}: scale_factor`, base.scale_factor),
    image_size: num(obj.image_size, `${source}: image_size`, base.image_size),
    unet_config: unet ?? base.unet_config,
    first_stage_config: firstStage,
    cond_stage_config: { layer, arch, text_cfg: textCfg },
    structcond_stage_config: struct ?? base.structcond_stage_config,
    // CFW shares the first-stage ddconfig unless given (its YAML is a separate file in the reference).
    cfw_config: (cfw as StableSRConfig['cfw_config'] | undefined) ?? (first ? { embed_dim: firstStage.embed_dim, ddconfig: { ...firstStage.ddconfig } } : base.cfw_config),
  };
}

/** Reads a YAML (or JSON) config file. */
export function loadStableSRConfigFile(path: string, base?: StableSRConfig): StableSRConfig {
  return parseStableSRConfig(readConfigFile(path), path, base);
}
