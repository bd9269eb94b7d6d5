import { configNumber as num, ldmModelParams, ldmSection } from '@stablesr/core';
import { type AutoencoderKLConfig, parseAutoencoderKLConfig } from '@stablesr/vae';
import { type UNetConfig } from '../model/unetConfig.js';
import { BETA_SCHEDULE_KINDS, type BetaScheduleKind } from '../schedule/betaSchedule.js';
import { type ClipTextConfig } from '../text/clipTextModel.js';
import { type OpenClipTextCfg } from '../text/openClipTextTower.js';
import { type TextEncoderSpec } from '../text/textConditioner.js';
import { readConfigFile } from './readConfigFile.js';

/**
 * The model configuration of a text-to-image latent diffusion checkpoint (SD 2.x `LatentDiffusion`), in the
 * layout of the official YAML (`model.params.{unet_config, first_stage_config, cond_stage_config}` plus the
 * schedule fields): each section holds the reference constructor's `params`, snake_case, unchanged.
 */
export interface TextToLatentConfig {
  /** `eps` (v2-inference.yaml, 512 px) or `v` (v2-inference-v.yaml, 768 px). */
  parameterization: 'eps' | 'v';
  beta_schedule: BetaScheduleKind;
  linear_start: number;
  linear_end: number;
  timesteps: number;
  cosine_s?: number;
  /** Latent scaling of the first stage (`scale_factor`). */
  scale_factor: number;
  /** Training latent side (`LatentDiffusion.image_size`): the default image is `image_size · f` pixels. */
  image_size: number;
  /** Latent channels (`LatentDiffusion.channels`). */
  channels: number;
  /** `UNetModel` params. */
  unet_config: UNetConfig;
  /** `AutoencoderKL` params (`embed_dim`, `ddconfig`). */
  first_stage_config: AutoencoderKLConfig;
  /** The text tower, resolved from `cond_stage_config` (class + params + the open_clip architecture). */
  cond_stage_config: TextEncoderSpec;
}

/** Text towers of the open_clip architectures SD 2.x uses (open_clip v2.0.2 `model_configs/*.json`). */
export const OPEN_CLIP_TEXT_ARCHS: Readonly<Record<string, OpenClipTextCfg & { quick_gelu?: boolean }>> = {
  'ViT-H-14': { context_length: 77, vocab_size: 49408, width: 1024, heads: 16, layers: 24 },
};

/** OpenAI CLIP ViT-L/14 text model (`openai/clip-vit-large-patch14`), the tower of SD 1.x `FrozenCLIPEmbedder`. */
export const CLIP_VIT_L14_TEXT: Readonly<ClipTextConfig> = {
  vocab_size: 49408,
  hidden_size: 768,
  intermediate_size: 3072,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  max_position_embeddings: 77,
  hidden_act: 'quick_gelu',
  layer_norm_eps: 1e-5,
};

/** `UNetModel` params of SD 2.x (v2-inference.yaml, v2-inference-v.yaml); StableSR's U-Net extends them. */
export const SD2_UNET_CONFIG: Readonly<UNetConfig> = {
  image_size: 32,
  in_channels: 4,
  out_channels: 4,
  model_channels: 320,
  attention_resolutions: [4, 2, 1],
  num_res_blocks: 2,
  channel_mult: [1, 2, 4, 4],
  num_head_channels: 64,
  use_spatial_transformer: true,
  use_linear_in_transformer: true,
  transformer_depth: 1,
  context_dim: 1024,
  legacy: false,
};

/** `AutoencoderKL` params of SD 2.x (v2-inference.yaml; `resolution` only places `attn_resolutions`, empty here). */
export const SD2_AUTOENCODER_CONFIG: Readonly<AutoencoderKLConfig> = {
  embed_dim: 4,
  ddconfig: { double_z: true, z_channels: 4, resolution: 256, in_channels: 3, out_ch: 3, ch: 128, ch_mult: [1, 2, 4, 4], num_res_blocks: 2, attn_resolutions: [], dropout: 0 },
};

function sd2Preset(parameterization: 'eps' | 'v', imageSize: number): TextToLatentConfig {
  return {
    parameterization,
    beta_schedule: 'linear',
    linear_start: 0.00085,
    linear_end: 0.012,
    timesteps: 1000,
    scale_factor: 0.18215,
    image_size: imageSize,
    channels: 4,
    unet_config: structuredClone(SD2_UNET_CONFIG),
    first_stage_config: structuredClone(SD2_AUTOENCODER_CONFIG),
    cond_stage_config: { type: 'open_clip', text_cfg: { ...OPEN_CLIP_TEXT_ARCHS['ViT-H-14']! }, layer: 'penultimate' },
  };
}

/**
 * Built-in presets of the released SD 2.1 models: `512` = `v2-1_512-ema-pruned.ckpt` (stable-diffusion-2-1-base,
 * ε-prediction, configs/stable-diffusion/v2-inference.yaml) and `768v` = `v2-1_768-ema-pruned.ckpt`
 * (stable-diffusion-2-1, v-prediction, v2-inference-v.yaml). SD 2.0 uses the same configurations.
 */
export const TEXT_TO_LATENT_PRESETS: Readonly<Record<'512' | '768v', TextToLatentConfig>> = {
  '512': sd2Preset('eps', 64),
  '768v': sd2Preset('v', 96),
};
export type TextToLatentPreset = keyof typeof TEXT_TO_LATENT_PRESETS;

/** The preset called `name`; unknown names are an error listing the known ones. */
export function textToLatentPreset(name: string): TextToLatentConfig {
  const p = (TEXT_TO_LATENT_PRESETS as Record<string, TextToLatentConfig | undefined>)[name];
  if (!p) throw new Error(`unknown text-to-latent preset "${name}" (known: ${Object.keys(TEXT_TO_LATENT_PRESETS).join(', ')})`);
  return structuredClone(p);
}

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);

function requireInts(o: Obj, fields: readonly string[], where: string): void {
  for (const f of fields) {
    const v = o[f];
    const ok = Array.isArray(v) ? v.every((x) => Number.isInteger(x)) : Number.isInteger(v);
    if (!ok) throw new Error(`${where}.${f}: expected an integer${Array.isArray(v) ? ' list' : ''}, got ${JSON.stringify(v)}`);
  }
}

function parseUNet(s: { params: Obj; cls: string | undefined }, source: string): UNetConfig {
  const where = `${source}: unet_config`;
  if (s.cls && s.cls !== 'UNetModel') {
    throw new Error(`${where}: class ${s.cls} is not a plain text-to-image UNetModel${s.cls.startsWith('UNetModelDualcond') ? ' (StableSR models are loaded with StableSR.load)' : ''}`);
  }
  requireInts(s.params, ['in_channels', 'model_channels', 'out_channels', 'num_res_blocks', 'attention_resolutions'], where);
  return s.params as unknown as UNetConfig;
}

function openClipTextCfg(params: Obj, where: string): OpenClipTextCfg & { quick_gelu?: boolean } {
  const modelCfg = params.open_clip_model_cfg;
  if (isObj(modelCfg)) {
    const t = modelCfg.text_cfg;
    if (!isObj(t)) throw new Error(`${where}.open_clip_model_cfg: missing "text_cfg"`);
    requireInts(t, ['context_length', 'vocab_size', 'width', 'heads', 'layers'], `${where}.open_clip_model_cfg.text_cfg`);
    return { ...(t as unknown as OpenClipTextCfg), ...(modelCfg.quick_gelu === true ? { quick_gelu: true } : {}) };
  }
  // FrozenOpenCLIPEmbedder's default arch.
  const arch = params.arch === undefined ? 'ViT-H-14' : String(params.arch);
  const known = OPEN_CLIP_TEXT_ARCHS[arch];
  if (!known) throw new Error(`${where}: unknown open_clip arch "${arch}" (known: ${Object.keys(OPEN_CLIP_TEXT_ARCHS).join(', ')}); give open_clip_model_cfg.text_cfg`);
  return { ...known };
}

function parseCondStage(s: { params: Obj; cls: string | undefined }, source: string): TextEncoderSpec {
  const where = `${source}: cond_stage_config`;
  const p = s.params;
  // Already resolved (a parsed config handed back in).
  if (p.type === 'open_clip' || p.type === 'hf_clip') return structuredClone(p) as unknown as TextEncoderSpec;
  const cls = s.cls ?? 'FrozenOpenCLIPEmbedder';
  if (cls === 'FrozenOpenCLIPEmbedder') {
    // The constructor's default layer is "last"; the SD 2.x YAMLs all say "penultimate".
    const layer = p.layer === undefined ? 'last' : p.layer;
    if (layer !== 'last' && layer !== 'penultimate') throw new Error(`${where}.layer must be "last" or "penultimate", got ${JSON.stringify(layer)}`);
    const { quick_gelu, ...text_cfg } = openClipTextCfg(p, where);
    return { type: 'open_clip', text_cfg, layer, ...(quick_gelu ? { quick_gelu } : {}) };
  }
  if (cls === 'FrozenCLIPEmbedder') {
    const layer = p.layer === undefined ? 'last' : p.layer;
    if (layer !== 'last' && layer !== 'hidden') throw new Error(`${where}.layer must be "last" or "hidden", got ${JSON.stringify(layer)}`);
    const maxLength = num(p.max_length, `${where}.max_length`, 77);
    return { type: 'hf_clip', config: { ...CLIP_VIT_L14_TEXT, max_position_embeddings: maxLength }, layer, ...(p.layer_idx !== undefined ? { layer_idx: num(p.layer_idx, `${where}.layer_idx`, 0) } : {}) };
  }
  throw new Error(`${where}: text encoder class ${cls} is not supported (FrozenOpenCLIPEmbedder or FrozenCLIPEmbedder)`);
}

/**
 * Reads a text-to-latent model configuration from a parsed YAML / JSON object: the official layout
 * (`model: {target, params: {unet_config: {target, params}, …}}`), its `model.params` alone, or a fixture
 * manifest's `config` (sections named `"unet_config (UNetModel)"`). Missing sections and fields fall back to
 * `base` (default: the SD 2.1 `512` preset); present sections follow the reference constructors' defaults.
 * `source` names the file in errors.
 */
export function parseTextToLatentConfig(raw: unknown, source = 'config', base: TextToLatentConfig = TEXT_TO_LATENT_PRESETS['512']): TextToLatentConfig {
  const obj = ldmModelParams(raw, source);
  const outer = raw as Obj;
  const param = obj.parameterization ?? outer.parameterization ?? base.parameterization;
  if (param !== 'eps' && param !== 'v') throw new Error(`${source}: parameterization must be "eps" or "v", got ${JSON.stringify(param)}`);
  const beta = obj.beta_schedule ?? base.beta_schedule;
  if (!(BETA_SCHEDULE_KINDS as readonly unknown[]).includes(beta)) throw new Error(`${source}: beta_schedule must be one of ${BETA_SCHEDULE_KINDS.join(', ')}, got ${JSON.stringify(beta)}`);
  const unet = ldmSection(obj, 'unet_config');
  const first = ldmSection(obj, 'first_stage_config');
  const cond = ldmSection(obj, 'cond_stage_config');
  const cfg: TextToLatentConfig = {
    parameterization: param,
    beta_schedule: beta as BetaScheduleKind,
    linear_start: num(obj.linear_start, `${source}: linear_start`, base.linear_start),
    linear_end: num(obj.linear_end, `${source}: linear_end`, base.linear_end),
    timesteps: num(obj.timesteps, `${source}: timesteps`, base.timesteps),
    scale_factor: num(obj.scale_factor, `${source}: scale_factor`, base.scale_factor),
    image_size: num(obj.image_size, `${source}: image_size`, base.image_size),
    channels: num(obj.channels, `${source}: channels`, base.channels),
    unet_config: unet ? parseUNet(unet, source) : structuredClone(base.unet_config),
    first_stage_config: first ? parseAutoencoderKLConfig(first.params, `${source}: first_stage_config`) : structuredClone(base.first_stage_config),
    cond_stage_config: cond ? parseCondStage(cond, source) : structuredClone(base.cond_stage_config),
  };
  const cosine = obj.cosine_s ?? base.cosine_s;
  if (cosine !== undefined) cfg.cosine_s = num(cosine, `${source}: cosine_s`, 8e-3);
  return cfg;
}

/** Reads a YAML (or JSON) config file, see {@link parseTextToLatentConfig}. */
export function loadTextToLatentConfigFile(path: string, base?: TextToLatentConfig): TextToLatentConfig {
  return parseTextToLatentConfig(readConfigFile(path), path, base);
}

/** Width of the context the text tower produces. */
export function textEncoderWidth(spec: TextEncoderSpec): number {
  return spec.type === 'open_clip' ? spec.text_cfg.width : spec.config.hidden_size;
}
