import * as tf from '@tensorflow/tfjs-core';
import { type WeightView, WeightFileError, oihwToHwio } from '@stablesr/core';
import { type AutoencoderKLConfig } from './config.js';

/**
 * diffusers `AutoencoderKL` (`vae/diffusion_pytorch_model.safetensors`) → original LDM checkpoint keys.
 * diffusers numbers decoder `up_blocks` from the lowest resolution (block 0 = LDM `up.<L−1>`), splits the
 * attention into linear `to_q/to_k/to_v/to_out.0` (LDM: 1×1 convs `q/k/v/proj_out`), and renames norms
 * and shortcuts. One table, applied in order; the first matching rule wins.
 */
type Rule = readonly [RegExp, (m: RegExpExecArray, levels: number) => string];

const RESNET_LEAF: readonly [RegExp, string][] = [[/^conv_shortcut\./, 'nin_shortcut.']];
const ATTN_LEAF: readonly [RegExp, string][] = [
  [/^group_norm\./, 'norm.'],
  [/^(to_q|query)\./, 'q.'],
  [/^(to_k|key)\./, 'k.'],
  [/^(to_v|value)\./, 'v.'],
  [/^(to_out\.0|proj_attn)\./, 'proj_out.'],
];

function leaf(rest: string, table: readonly [RegExp, string][]): string {
  for (const [re, to] of table) if (re.test(rest)) return rest.replace(re, to);
  return rest;
}

const up = (i: string, levels: number): number => levels - 1 - Number(i);

export const DIFFUSERS_VAE_KEY_RULES: readonly Rule[] = [
  [/^(encoder|decoder)\.conv_norm_out\.(.+)$/, (m) => `${m[1]}.norm_out.${m[2]}`],
  [/^encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.(.+)$/, (m) => `encoder.down.${m[1]}.block.${m[2]}.${leaf(m[3]!, RESNET_LEAF)}`],
  [/^encoder\.down_blocks\.(\d+)\.attentions\.(\d+)\.(.+)$/, (m) => `encoder.down.${m[1]}.attn.${m[2]}.${leaf(m[3]!, ATTN_LEAF)}`],
  [/^encoder\.down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.+)$/, (m) => `encoder.down.${m[1]}.downsample.conv.${m[2]}`],
  [/^decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(.+)$/, (m, L) => `decoder.up.${up(m[1]!, L)}.block.${m[2]}.${leaf(m[3]!, RESNET_LEAF)}`],
  [/^decoder\.up_blocks\.(\d+)\.attentions\.(\d+)\.(.+)$/, (m, L) => `decoder.up.${up(m[1]!, L)}.attn.${m[2]}.${leaf(m[3]!, ATTN_LEAF)}`],
  [/^decoder\.up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.+)$/, (m, L) => `decoder.up.${up(m[1]!, L)}.upsample.conv.${m[2]}`],
  [/^(encoder|decoder)\.mid_block\.resnets\.([01])\.(.+)$/, (m) => `${m[1]}.mid.block_${Number(m[2]) + 1}.${leaf(m[3]!, RESNET_LEAF)}`],
  [/^(encoder|decoder)\.mid_block\.attentions\.0\.(.+)$/, (m) => `${m[1]}.mid.attn_1.${leaf(m[2]!, ATTN_LEAF)}`],
];

/** Checkpoint key of a diffusers VAE key (`levels` = number of resolution levels); unmapped keys pass through. */
export function diffusersToCheckpointKey(key: string, levels: number): string {
  for (const [re, to] of DIFFUSERS_VAE_KEY_RULES) {
    const m = re.exec(key);
    if (m) return to(m, levels);
  }
  return key;
}

/** Number of resolution levels of a diffusers VAE from its keys. */
export function diffusersVaeLevels(keys: readonly string[]): number {
  let max = -1;
  for (const k of keys) {
    const m = /^(?:decoder\.up_blocks|encoder\.down_blocks)\.(\d+)\./.exec(k);
    if (m) max = Math.max(max, Number(m[1]));
  }
  if (max < 0) throw new Error('not a diffusers VAE: no encoder.down_blocks.* / decoder.up_blocks.* keys');
  return max + 1;
}

/** Attention projections: linear `[C, C]` in diffusers, 1×1 conv `[C, C, 1, 1]` in the checkpoint. */
const ATTN_PROJ = /\.(?:attn_1|attn\.\d+)\.(?:q|k|v|proj_out)\.weight$/;

/**
 * A {@link WeightView} over a diffusers VAE that answers with the original checkpoint's key names and
 * layouts, so `loadAutoencoderKL(config, diffusersVaeView(view))` loads it unchanged. `view` is scoped at
 * the diffusers VAE's keys (`encoder.down_blocks…`). Reads are recorded on the underlying view, and
 * {@link WeightView.unusedKeys} reports leftovers under checkpoint names.
 */
export function diffusersVaeView(view: WeightView): WeightView {
  const keys = view.keys();
  const levels = diffusersVaeLevels(keys);
  const toFile = new Map<string, string>();
  for (const k of keys) {
    const ck = diffusersToCheckpointKey(k, levels);
    if (toFile.has(ck)) throw new WeightFileError(view.origin, `diffusers keys ${toFile.get(ck)} and ${k} both map to ${ck}`, view.prefix + k);
    toFile.set(ck, k);
  }
  return adapter(view, toFile, levels, '');
}

function adapter(base: WeightView, toFile: ReadonlyMap<string, string>, levels: number, prefix: string): WeightView {
  const fileKey = (name: string): string => {
    const f = toFile.get(prefix + name);
    if (f === undefined) throw new WeightFileError(base.origin, 'missing key (no tensor of this diffusers VAE maps to it)', prefix + name);
    return f;
  };
  const shapeOf = (name: string): readonly number[] | undefined => {
    const f = toFile.get(prefix + name);
    if (f === undefined) return undefined;
    const s = base.shapeOf(f)!;
    return s.length === 2 && ATTN_PROJ.test(prefix + name) ? [s[0]!, s[1]!, 1, 1] : s;
  };
  const checked = (name: string, expected?: readonly number[]): { file: string; shape: readonly number[] } => {
    const file = fileKey(name);
    const shape = shapeOf(name)!;
    if (expected && (expected.length !== shape.length || expected.some((d, i) => d !== shape[i]))) {
      throw new WeightFileError(base.origin, `shape [${shape.join(', ')}] (diffusers ${file}) does not match the expected [${expected.join(', ')}] (the config does not fit this checkpoint)`, prefix + name);
    }
    return { file, shape };
  };
  const self: WeightView = {
    prefix,
    origin: base.origin,
    scope: (p) => adapter(base, toFile, levels, prefix + p),
    has: (name) => toFile.has(prefix + name),
    keys: () => [...toFile.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length)),
    shapeOf,
    data: (name, expected) => base.data(checked(name, expected).file),
    get: (name, expected) => {
      const { file, shape } = checked(name, expected);
      const d = base.data(file);
      return d instanceof Float32Array ? tf.tensor(d, [...shape], 'float32') : tf.tensor(d, [...shape], 'int32');
    },
    conv2d: (name, expected) => {
      const { file, shape } = checked(name, expected);
      if (shape.length !== 4) throw new WeightFileError(base.origin, `expected a 4-D conv weight, found shape [${shape}]`, prefix + name);
      const d = base.data(file);
      if (!(d instanceof Float32Array)) throw new WeightFileError(base.origin, 'expected a floating-point tensor', prefix + name);
      return oihwToHwio(d, shape);
    },
    linear: (name, expected) => base.linear(fileKey(name), expected),
    unusedKeys: () =>
      base
        .unusedKeys()
        .map((k) => diffusersToCheckpointKey(k, levels))
        .filter((k) => k.startsWith(prefix))
        .map((k) => k.slice(prefix.length)),
    assertAllUsed: (what) => {
      const unused = self.unusedKeys();
      if (unused.length) throw new WeightFileError(base.origin, `${unused.length} unexpected key(s) for ${what}: ${unused.slice(0, 8).map((k) => prefix + k).join(', ')}`);
    },
  };
  return self;
}

/** The fields of a diffusers `vae/config.json` this package reads. */
export interface DiffusersVaeConfig {
  in_channels?: number;
  out_channels?: number;
  block_out_channels: number[];
  layers_per_block: number;
  latent_channels: number;
  sample_size?: number;
  norm_num_groups?: number;
  down_block_types?: string[];
  scaling_factor?: number;
}

/** The equivalent reference config (and scale factor) of a diffusers `vae/config.json`. */
export function autoencoderConfigFromDiffusers(cfg: DiffusersVaeConfig, where = 'vae/config.json'): { config: AutoencoderKLConfig; scaleFactor?: number } {
  const boc = cfg.block_out_channels;
  if (!Array.isArray(boc) || boc.length === 0) throw new Error(`${where}: block_out_channels must be a non-empty list`);
  const ch = boc[0]!;
  const ch_mult = boc.map((c) => {
    if (c % ch !== 0) throw new Error(`${where}: block_out_channels ${JSON.stringify(boc)} are not multiples of the first`);
    return c / ch;
  });
  if (cfg.norm_num_groups !== undefined && cfg.norm_num_groups !== 32) throw new Error(`${where}: norm_num_groups ${cfg.norm_num_groups} is not supported (the LDM autoencoder uses 32)`);
  const resolution = cfg.sample_size ?? 512;
  const attn_resolutions = (cfg.down_block_types ?? []).flatMap((t, i) => (t.startsWith('Attn') ? [resolution / 2 ** i] : []));
  return {
    config: {
      embed_dim: cfg.latent_channels,
      ddconfig: {
        double_z: true,
        z_channels: cfg.latent_channels,
        resolution,
        in_channels: cfg.in_channels ?? 3,
        out_ch: cfg.out_channels ?? 3,
        ch,
        ch_mult,
        num_res_blocks: cfg.layers_per_block,
        attn_resolutions,
        dropout: 0,
      },
    },
    ...(cfg.scaling_factor !== undefined ? { scaleFactor: cfg.scaling_factor } : {}),
  };
}
