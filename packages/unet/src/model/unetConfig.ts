import { configEntry } from '@stablesr/core';

/**
 * Constructor parameters of the reference `UNetModel` (Stability-AI/stablediffusion
 * `ldm/modules/diffusionmodules/openaimodel.py`) and of StableSR's `UNetModelDualcondV2`, field for field.
 * Parameters that only matter for training (`dropout`, `use_checkpoint`, `use_fp16`) are accepted and ignored.
 */
export interface UNetConfig {
  image_size?: number;
  in_channels: number;
  model_channels: number;
  out_channels: number;
  /** One count for every level, or one per level. */
  num_res_blocks: number | readonly number[];
  /** Downsampling rates (1, 2, 4, …) at which attention layers are placed. */
  attention_resolutions: readonly number[];
  dropout?: number;
  channel_mult?: readonly number[];
  conv_resample?: boolean;
  dims?: number;
  num_classes?: number | string | null;
  use_checkpoint?: boolean;
  use_fp16?: boolean;
  num_heads?: number;
  num_head_channels?: number;
  num_heads_upsample?: number;
  use_scale_shift_norm?: boolean;
  resblock_updown?: boolean;
  use_new_attention_order?: boolean;
  use_spatial_transformer?: boolean;
  transformer_depth?: number;
  /** Width of the cross-attention context (one per transformer depth when a list). */
  context_dim?: number | readonly number[] | null;
  n_embed?: number | null;
  legacy?: boolean;
  disable_self_attentions?: readonly boolean[] | null;
  num_attention_blocks?: readonly number[] | null;
  disable_middle_self_attn?: boolean;
  use_linear_in_transformer?: boolean;
  /** `UNetModelDualcondV2` only: channels of the structure features fed to SPADE. */
  semb_channels?: number | null;
  adm_in_channels?: number | null;
}

/** The reference constructor defaults (`UNetModel.__init__`). */
export const UNET_DEFAULTS = {
  dropout: 0,
  channel_mult: [1, 2, 4, 8] as readonly number[],
  conv_resample: true,
  dims: 2,
  num_heads: -1,
  num_head_channels: -1,
  num_heads_upsample: -1,
  use_scale_shift_norm: false,
  resblock_updown: false,
  use_new_attention_order: false,
  use_spatial_transformer: false,
  transformer_depth: 1,
  legacy: true,
  disable_middle_self_attn: false,
  use_linear_in_transformer: false,
} as const;

/**
 * Picks a model config out of a manifest / YAML `config` object: an entry whose key before " (" is `name`
 * (e.g. `"unet_config (UNetModelDualcondV2)"` for `unet_config`), else the object itself when it already
 * looks like a config (has `model_channels`).
 */
export function pickConfig<T>(config: Record<string, unknown>, name: string, what = name): T {
  const entry = configEntry(config, name, true);
  if (entry) return entry.value as T;
  if ('model_channels' in config) return config as T;
  throw new Error(`config has no "${name}" entry for ${what} (keys: ${Object.keys(config).join(', ') || 'none'})`);
}
