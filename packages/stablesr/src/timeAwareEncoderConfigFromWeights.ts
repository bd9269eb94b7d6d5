import { type WeightView, childIndices, definedFields, hasKeysUnder, storedShape } from '@stablesr/core';
import { type EncoderUNetModelWTConfig } from './timeAwareEncoder.js';

/** The fields of {@link EncoderUNetModelWTConfig} that {@link inferTimeAwareEncoderFields} reads off the weights. */
export type TimeAwareEncoderStructure = Pick<
  EncoderUNetModelWTConfig,
  'in_channels' | 'model_channels' | 'out_channels' | 'num_res_blocks' | 'channel_mult' | 'attention_resolutions' | 'conv_resample' | 'resblock_updown' | 'use_scale_shift_norm'
>;

/**
 * The structural parameters of `EncoderUNetModelWT` (view at `structcond_stage_model.`):
 * - `in_channels`, `model_channels` from `input_blocks.0.0.weight`; `out_channels` from `fea_tran.0.out_layers.3.weight`;
 * - the number of levels L from `fea_tran.<i>` (one per downsample plus the middle block), `num_res_blocks` from the
 *   input block count 1 + L·n + (L − 1), so level l's blocks sit at known indices: `channel_mult[l]` is the width of its
 *   first ResBlock / model_channels, `attention_resolutions` the 2^l of levels with `input_blocks.<i>.1.qkv.*`;
 * - `resblock_updown` when a downsampling block is a ResBlock (`….0.in_layers.*`) rather than a conv (`….0.op.weight`);
 * - `use_scale_shift_norm` from `input_blocks.1.0.emb_layers.1.weight` (2·out rows instead of out).
 * Not in the weights: `num_heads` / `num_head_channels` (legacy `AttentionBlock` splits qkv by heads without changing
 * its shape), `image_size`, `dropout`.
 */
export function inferTimeAwareEncoderFields(view: WeightView): TimeAwareEncoderStructure {
  const convIn = storedShape(view, 'input_blocks.0.0.weight', 'model_channels / in_channels');
  const mc = convIn[0]!;
  const L = childIndices(view, 'fea_tran.').length;
  const blocks = childIndices(view, 'input_blocks.').length;
  const n = (blocks - L) / L;
  if (L === 0 || !Number.isInteger(n) || n < 1) {
    throw new Error(`${view.origin}: ${view.prefix}fea_tran has ${L} entries and input_blocks ${blocks}: the time-aware encoder's levels cannot be read off the weights; give channel_mult and num_res_blocks in the config`);
  }
  // Level l's ResBlocks are input blocks 1 + l·(n+1) … l·(n+1) + n; its downsample follows them.
  const first = (l: number) => 1 + l * (n + 1);
  const down = L > 1 ? `input_blocks.${n + 1}.0.` : undefined;
  const out1 = storedShape(view, 'input_blocks.1.0.out_layers.3.weight', 'use_scale_shift_norm')[0]!;
  return {
    in_channels: convIn[1]!,
    model_channels: mc,
    out_channels: storedShape(view, 'fea_tran.0.out_layers.3.weight', 'out_channels')[0]!,
    num_res_blocks: n,
    channel_mult: Array.from({ length: L }, (_, l) => storedShape(view, `input_blocks.${first(l)}.0.out_layers.3.weight`, `channel_mult[${l}]`)[0]! / mc),
    attention_resolutions: Array.from({ length: L }, (_, l) => l).filter((l) => view.has(`input_blocks.${first(l)}.1.qkv.weight`)).map((l) => 2 ** l),
    ...(down ? { conv_resample: true, resblock_updown: hasKeysUnder(view, `${down}in_layers.`) } : {}),
    use_scale_shift_norm: storedShape(view, 'input_blocks.1.0.emb_layers.1.weight', 'use_scale_shift_norm')[0] === 2 * out1,
  };
}

/**
 * The configuration of the time-aware encoder in `view`: each field as `given` says it, else read off the weights
 * ({@link inferTimeAwareEncoderFields}), else from `base` (heads, …).
 */
export function timeAwareEncoderConfigFromWeights(view: WeightView, given: Partial<EncoderUNetModelWTConfig> | undefined, base: EncoderUNetModelWTConfig): EncoderUNetModelWTConfig {
  return { ...base, ...inferTimeAwareEncoderFields(view), ...definedFields(given ?? {}) };
}
