import { type WeightView, childIndices, definedFields, hasKeysUnder, storedShape } from '@stablesr/core';
import { type UNetConfig } from './unetConfig.js';

/** The fields of {@link UNetConfig} that {@link inferUNetFields} reads off the weights. */
export type UNetStructure = Pick<
  UNetConfig,
  | 'in_channels'
  | 'model_channels'
  | 'out_channels'
  | 'num_res_blocks'
  | 'channel_mult'
  | 'attention_resolutions'
  | 'conv_resample'
  | 'resblock_updown'
  | 'use_scale_shift_norm'
  | 'use_spatial_transformer'
  | 'transformer_depth'
  | 'context_dim'
  | 'use_linear_in_transformer'
>;

const isAttention = (view: WeightView, p: string): boolean => view.has(`${p}qkv.weight`) || view.has(`${p}proj_in.weight`);

/**
 * The structural parameters of a `UNetModel` (view at `model.diffusion_model.`, original key layout):
 * - `in_channels`, `model_channels` from `input_blocks.0.0.weight` `[model_channels, in, 3, 3]`; `out_channels` from `out.2.weight`;
 * - the levels from the output blocks: each level but the lowest-resolution one ends in a block with an upsampler
 *   (`output_blocks.<k>.<j>.conv.weight`, or a ResBlock `….<j>.in_layers.*` with `resblock_updown`), so the blocks split
 *   into levels; `num_res_blocks[l]` = blocks of level l − 1 (an int when all agree), `channel_mult[l]` = the width of
 *   its first ResBlock (`out_layers.3.weight` `[mc·mult, …]`) / model_channels; checked against the input blocks' count;
 * - `attention_resolutions`: 2^l for each level l whose output blocks hold an attention layer (`….1.qkv.*` or `….1.proj_in.*`);
 * - `use_spatial_transformer`, `transformer_depth`, `context_dim`, `use_linear_in_transformer` from the middle block's
 *   attention: `middle_block.1.transformer_blocks.<d>`, `….transformer_blocks.0.attn2.to_k.weight` `[inner, context_dim]`,
 *   and the rank of `middle_block.1.proj_in.weight` (2: Linear, 4: 1×1 conv);
 * - `use_scale_shift_norm` from `input_blocks.1.0.emb_layers.1.weight` (2·out rows instead of out).
 * Not in the weights: `num_heads` / `num_head_channels` (the heads split q, k, v without changing any shape), `dropout`,
 * `image_size`, `legacy`, and a `conv_resample: false` U-Net's levels (its resamplers have no weights).
 */
export function inferUNetFields(view: WeightView): UNetStructure {
  const convIn = storedShape(view, 'input_blocks.0.0.weight', 'model_channels / in_channels');
  const mc = convIn[0]!;
  const levels: number[][] = [[]];
  let convUp = false;
  let resUp = false;
  for (const k of childIndices(view, 'output_blocks.')) {
    levels[levels.length - 1]!.push(k);
    const last = childIndices(view, `output_blocks.${k}.`).filter((j) => j > 0 && !isAttention(view, `output_blocks.${k}.${j}.`));
    if (last.length === 0) continue;
    const p = `output_blocks.${k}.${last[last.length - 1]}.`;
    if (view.has(`${p}conv.weight`)) convUp = true;
    else if (hasKeysUnder(view, `${p}in_layers.`)) resUp = true;
    else continue;
    levels.push([]);
  }
  if (levels[0]!.length === 0) throw new Error(`${view.origin}: no ${view.prefix}output_blocks.<k>: cannot read the U-Net's levels off the weights`);
  // Output levels run from the lowest resolution up; the config lists level 0 (full resolution) first.
  levels.reverse();
  const nrb = levels.map((blocks) => blocks.length - 1);
  const mult = levels.map((blocks, l) => storedShape(view, `output_blocks.${blocks[0]}.0.out_layers.3.weight`, `channel_mult[${l}]`)[0]! / mc);
  const inputBlocks = childIndices(view, 'input_blocks.').length;
  const expected = 1 + nrb.reduce((a, b) => a + b, 0) + levels.length - 1;
  if (inputBlocks !== expected) {
    throw new Error(
      `${view.origin}: the output blocks give ${levels.length} level(s) with num_res_blocks [${nrb.join(', ')}], which needs ${expected} input blocks, ` +
        `but ${view.prefix}input_blocks has ${inputBlocks}: the levels cannot be read off the weights (conv_resample false?); give channel_mult and num_res_blocks in the config`,
    );
  }
  const attention = levels.flatMap((blocks, l) => (blocks.some((k) => isAttention(view, `output_blocks.${k}.1.`)) ? [2 ** l] : []));
  const out1 = storedShape(view, 'input_blocks.1.0.out_layers.3.weight', 'use_scale_shift_norm')[0]!;
  const st = hasKeysUnder(view, 'middle_block.1.transformer_blocks.');
  const structure: UNetStructure = {
    in_channels: convIn[1]!,
    model_channels: mc,
    out_channels: storedShape(view, 'out.2.weight', 'out_channels')[0]!,
    num_res_blocks: nrb.every((n) => n === nrb[0]) ? nrb[0]! : nrb,
    channel_mult: mult,
    attention_resolutions: attention,
    ...(convUp || resUp ? { conv_resample: true } : {}),
    resblock_updown: resUp,
    use_scale_shift_norm: storedShape(view, 'input_blocks.1.0.emb_layers.1.weight', 'use_scale_shift_norm')[0] === 2 * out1,
    use_spatial_transformer: st,
  };
  if (st) {
    structure.transformer_depth = childIndices(view, 'middle_block.1.transformer_blocks.').length;
    structure.context_dim = storedShape(view, 'middle_block.1.transformer_blocks.0.attn2.to_k.weight', 'context_dim')[1]!;
    structure.use_linear_in_transformer = storedShape(view, 'middle_block.1.proj_in.weight', 'use_linear_in_transformer').length === 2;
  } else {
    structure.context_dim = null;
  }
  return structure;
}

/**
 * The configuration of the U-Net in `view`: each field as `given` says it (reference constructor params; any field
 * may be absent), else read off the weights ({@link inferUNetFields}), else from `base` (for what the weights cannot
 * tell: heads, `image_size`, …). A checkpoint with no config thus builds the network it holds; a config that
 * contradicts the weights still fails in the strict loader, naming the key.
 */
export function unetConfigFromWeights<C extends UNetConfig>(view: WeightView, given: Partial<C> | undefined, base: C): C {
  return { ...base, ...inferUNetFields(view), ...definedFields(given ?? {}) };
}

