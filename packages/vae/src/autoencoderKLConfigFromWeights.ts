import { type WeightView, childIndices, hasKeysUnder, storedShape } from '@stablesr/core';
import { AUTOENCODER_KL_DEFAULTS, type AutoencoderKLConfig, type DDConfig, parseAutoencoderKLConfig } from './config.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);

/**
 * `Decoder_Mix`'s `num_fuse_block` read off a CFW checkpoint: the RRDBs of the first fusion layer
 * (`decoder.fusion_layer_<i>.encode_enc_2.<n>.*`); undefined when the view has no fusion layers.
 */
export function numFuseBlockFromWeights(view: WeightView): number | undefined {
  const layer = view.keys().find((k) => k.startsWith('decoder.fusion_layer_'))?.split('.')[1];
  if (layer === undefined) return undefined;
  return childIndices(view, `decoder.${layer}.encode_enc_2.`).length;
}

/**
 * The structural fields of an autoencoder that its weights determine (view at the autoencoder: `encoder.*`,
 * `decoder.*`, `quant_conv.*`, `post_quant_conv.*`):
 * - `ch`, `in_channels` from `encoder.conv_in.weight` `[ch, in, 3, 3]`; `out_ch` from `decoder.conv_out.weight`;
 * - `ch_mult` from the levels `encoder.down.<i>` and their widths `encoder.down.<i>.block.0.conv1.weight` `[ch·mult_i, …]`;
 * - `num_res_blocks` from the blocks `encoder.down.0.block.<j>`;
 * - `z_channels` from `decoder.conv_in.weight` `[…, z, 3, 3]`, `double_z` from `encoder.conv_out.weight` (2·z or z out);
 * - `embed_dim` from `post_quant_conv.weight` `[z, embed_dim, 1, 1]`;
 * - `attn_resolutions` from the levels with `encoder.down.<i>.attn.*` at `resolution / 2^i` (the resolution itself
 *   only places them and is not in the weights: it is a parameter here);
 * - `num_fuse_block` (CFW only) from {@link numFuseBlockFromWeights}.
 * Not in the weights: `resolution`, `dropout`.
 */
export function inferAutoencoderKLFields(view: WeightView, resolution: number): { embed_dim: number; ddconfig: Omit<DDConfig, 'resolution' | 'dropout'> } {
  const convIn = storedShape(view, 'encoder.conv_in.weight', 'ch / in_channels');
  const ch = convIn[0]!;
  const levels = childIndices(view, 'encoder.down.');
  if (levels.length === 0) throw new Error(`${view.origin}: no ${view.prefix}encoder.down.<i> levels: cannot read ch_mult off the weights`);
  const chMult = levels.map((i) => storedShape(view, `encoder.down.${i}.block.0.conv1.weight`, `ch_mult[${i}]`)[0]! / ch);
  const z = storedShape(view, 'decoder.conv_in.weight', 'z_channels')[1]!;
  const attn = levels.filter((i) => hasKeysUnder(view, `encoder.down.${i}.attn.`)).map((i) => Math.floor(resolution / 2 ** i));
  const ddconfig: Omit<DDConfig, 'resolution' | 'dropout'> = {
    double_z: storedShape(view, 'encoder.conv_out.weight', 'double_z')[0] === 2 * z,
    z_channels: z,
    in_channels: convIn[1]!,
    out_ch: storedShape(view, 'decoder.conv_out.weight', 'out_ch')[0]!,
    ch,
    ch_mult: chMult,
    num_res_blocks: childIndices(view, 'encoder.down.0.block.').length,
    attn_resolutions: attn,
  };
  const fuse = numFuseBlockFromWeights(view);
  if (fuse !== undefined) ddconfig.num_fuse_block = fuse;
  return { embed_dim: storedShape(view, 'post_quant_conv.weight', 'embed_dim')[1]!, ddconfig };
}

/**
 * The configuration of the autoencoder in `view`: each field as `given` says it (a reference-style config,
 * `{embed_dim, ddconfig}` or `{target, params}`, any field may be absent), else read off the weights
 * ({@link inferAutoencoderKLFields}), else from `base`. A checkpoint with no config thus builds the network it
 * holds; a config that contradicts the weights still fails in the strict loader, naming the key.
 */
export function autoencoderKLConfigFromWeights(view: WeightView, given?: unknown, base: AutoencoderKLConfig = AUTOENCODER_KL_DEFAULTS, where = 'autoencoder config'): AutoencoderKLConfig {
  let g: Obj = isObj(given) ? given : {};
  if (isObj(g.params) && !('ddconfig' in g)) g = g.params;
  const gdd: Obj = isObj(g.ddconfig) ? g.ddconfig : {};
  const resolution = gdd.resolution ?? base.ddconfig.resolution;
  const inferred = inferAutoencoderKLFields(view, typeof resolution === 'number' ? resolution : base.ddconfig.resolution);
  return parseAutoencoderKLConfig(
    { embed_dim: g.embed_dim ?? inferred.embed_dim, ddconfig: { ...base.ddconfig, ...inferred.ddconfig, ...gdd } },
    where,
  );
}
