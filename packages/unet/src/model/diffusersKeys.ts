import { type TensorEntry, type WeightView, type Weights, WeightFileError, weightsFromSource } from '@stablesr/core';
import { UNET_DEFAULTS, type UNetConfig } from './unetConfig.js';
import { resBlocksPerLevel } from './unetModel.js';

/** ResBlock member names: original (`ResBlock`) → diffusers (`ResnetBlock2D`). */
const RESNET_NAMES: ReadonlyArray<readonly [string, string]> = [
  ['in_layers.0.', 'norm1.'],
  ['in_layers.2.', 'conv1.'],
  ['emb_layers.1.', 'time_emb_proj.'],
  ['out_layers.0.', 'norm2.'],
  ['out_layers.3.', 'conv2.'],
  ['skip_connection.', 'conv_shortcut.'],
];

/** One prefix correspondence; `resnet` prefixes also rename the ResBlock members. */
interface PrefixRule {
  readonly ldm: string;
  readonly diffusers: string;
  readonly resnet: boolean;
}

/**
 * The prefix table between the original U-Net keys (relative to `model.diffusion_model.`) and a diffusers
 * `UNet2DConditionModel` (`unet/` folder), derived from the level layout of `config` (levels and
 * `num_res_blocks`). Transformer internals (`transformer_blocks.*`, `proj_in`, `norm`, …) share their names.
 */
export function diffusersUNetPrefixes(config: UNetConfig): PrefixRule[] {
  const levels = (config.channel_mult ?? UNET_DEFAULTS.channel_mult).length;
  const nrb = resBlocksPerLevel(config);
  const rules: PrefixRule[] = [
    { ldm: 'time_embed.0.', diffusers: 'time_embedding.linear_1.', resnet: false },
    { ldm: 'time_embed.2.', diffusers: 'time_embedding.linear_2.', resnet: false },
    { ldm: 'input_blocks.0.0.', diffusers: 'conv_in.', resnet: false },
    { ldm: 'out.0.', diffusers: 'conv_norm_out.', resnet: false },
    { ldm: 'out.2.', diffusers: 'conv_out.', resnet: false },
    { ldm: 'middle_block.0.', diffusers: 'mid_block.resnets.0.', resnet: true },
    { ldm: 'middle_block.1.', diffusers: 'mid_block.attentions.0.', resnet: false },
    { ldm: 'middle_block.2.', diffusers: 'mid_block.resnets.1.', resnet: true },
  ];
  let idx = 1;
  for (let level = 0; level < levels; level++) {
    for (let j = 0; j < nrb[level]!; j++, idx++) {
      rules.push({ ldm: `input_blocks.${idx}.0.`, diffusers: `down_blocks.${level}.resnets.${j}.`, resnet: true });
      rules.push({ ldm: `input_blocks.${idx}.1.`, diffusers: `down_blocks.${level}.attentions.${j}.`, resnet: false });
    }
    if (level !== levels - 1) {
      rules.push({ ldm: `input_blocks.${idx}.0.op.`, diffusers: `down_blocks.${level}.downsamplers.0.conv.`, resnet: false });
      idx++;
    }
  }
  let out = 0;
  for (let level = levels - 1; level >= 0; level--) {
    const up = levels - 1 - level;
    for (let j = 0; j <= nrb[level]!; j++, out++) {
      rules.push({ ldm: `output_blocks.${out}.0.`, diffusers: `up_blocks.${up}.resnets.${j}.`, resnet: true });
      rules.push({ ldm: `output_blocks.${out}.1.`, diffusers: `up_blocks.${up}.attentions.${j}.`, resnet: false });
      if (level > 0 && j === nrb[level]!) {
        // The Upsample is child 2 after an attention layer, child 1 without one.
        rules.push({ ldm: `output_blocks.${out}.2.conv.`, diffusers: `up_blocks.${up}.upsamplers.0.conv.`, resnet: false });
      }
    }
  }
  return rules;
}

/** The original key of a diffusers U-Net key, or undefined when no rule covers it. */
export function diffusersToOriginalUNetKey(key: string, rules: readonly PrefixRule[]): string | undefined {
  for (const r of rules) {
    if (!key.startsWith(r.diffusers)) continue;
    const rest = key.slice(r.diffusers.length);
    if (!r.resnet) return r.ldm + rest;
    const member = RESNET_NAMES.find(([, d]) => rest.startsWith(d));
    if (member) return r.ldm + member[0] + rest.slice(member[1].length);
    return undefined;
  }
  return undefined;
}

/** The diffusers key of an original U-Net key (inverse of {@link diffusersToOriginalUNetKey}), or undefined. */
export function originalToDiffusersUNetKey(key: string, rules: readonly PrefixRule[]): string | undefined {
  // Upsample convs sit at child 1 or 2 of their output block (attention layers have no `conv` member);
  // the rule table names child 2.
  const k = key.replace(/^(output_blocks\.\d+)\.1\.conv\./, '$1.2.conv.');
  for (const r of rules) {
    if (!k.startsWith(r.ldm)) continue;
    const rest = k.slice(r.ldm.length);
    if (!r.resnet) return r.diffusers + rest;
    const member = RESNET_NAMES.find(([o]) => rest.startsWith(o));
    if (member) return r.diffusers + member[1] + rest.slice(member[0].length);
  }
  return undefined;
}

/**
 * Presents a diffusers `unet/` component (a view whose keys are `conv_in.weight`, `down_blocks.0.resnets.0.norm1.weight`, …)
 * under the original names, as {@link loadUNet} reads them. An Upsample following an attention layer is
 * child 2 of its output block and child 1 otherwise; which one is decided from the keys present.
 * Keys no rule covers keep their diffusers name, so strict loading reports them as unexpected.
 */
export function diffusersUNetView(view: WeightView, config: UNetConfig): Weights {
  const rules = diffusersUNetPrefixes(config);
  const keys = view.keys();
  const present = new Set<string>();
  const mapped = new Map<string, string>();
  for (const k of keys) {
    const ldm = diffusersToOriginalUNetKey(k, rules) ?? k;
    mapped.set(k, ldm);
    present.add(ldm);
  }
  // Upsample index: 2 only if the same output block has an attention child (`.1.` keys).
  for (const [k, ldm] of mapped) {
    const m = /^output_blocks\.(\d+)\.2\.conv\.(.*)$/.exec(ldm);
    if (m && ![...present].some((p) => p.startsWith(`output_blocks.${m[1]}.1.`))) mapped.set(k, `output_blocks.${m[1]}.1.conv.${m[2]}`);
  }
  const entries = new Map<string, TensorEntry>();
  for (const [k, ldm] of mapped) {
    if (entries.has(ldm)) throw new WeightFileError(view.origin, `two diffusers keys map to "${ldm}"`, view.prefix + k);
    const shape = view.shapeOf(k)!;
    entries.set(ldm, { name: ldm, dtype: 'F32', shape, read: () => view.data(k) });
  }
  return weightsFromSource({ origin: `${view.origin} (diffusers U-Net${view.prefix ? ` ${view.prefix}*` : ''})`, metadata: {}, entries: () => entries, close: () => {} });
}
