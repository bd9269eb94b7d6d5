/**
 * Configuration of the KL autoencoder, mirroring the reference `ddconfig` + `embed_dim`
 * (`ldm/models/autoencoder.py` `AutoencoderKL.__init__`, `ldm/modules/diffusionmodules/model.py` `Encoder`/`Decoder`)
 * field for field, so a YAML/JSON config of the reference parses into it unchanged.
 */
export interface DDConfig {
  double_z: boolean;
  z_channels: number;
  /** Nominal training resolution; only decides at which levels attention blocks exist (`attn_resolutions`). */
  resolution: number;
  in_channels: number;
  out_ch: number;
  ch: number;
  ch_mult: number[];
  num_res_blocks: number;
  attn_resolutions: number[];
  /** Training-only; ignored at inference. */
  dropout?: number;
  /** The reference's default `true`; `false` (avg-pool / no-conv resampling) is not used by any released checkpoint. */
  resamp_with_conv?: boolean;
  /** Only "vanilla" attention is supported (what SD/StableSR checkpoints use). */
  attn_type?: string;
  /** CFW (`Decoder_Mix`) only: RRDBs per fusion layer (reference default 2). */
  num_fuse_block?: number;
}

export interface AutoencoderKLConfig {
  embed_dim: number;
  ddconfig: DDConfig;
}

/** SD-2.x / StableSR first-stage defaults (`v2-finetune_text_T_512.yaml` `first_stage_config.params`). */
export const AUTOENCODER_KL_DEFAULTS: AutoencoderKLConfig = {
  embed_dim: 4,
  ddconfig: {
    double_z: true,
    z_channels: 4,
    resolution: 512,
    in_channels: 3,
    out_ch: 3,
    ch: 128,
    ch_mult: [1, 2, 4, 4],
    num_res_blocks: 2,
    attn_resolutions: [],
    dropout: 0.0,
  },
};

/** `Decoder_Mix`'s default number of RRDBs per fusion layer (the released CFW config uses it). */
export const DEFAULT_NUM_FUSE_BLOCK = 2;

/** `LatentDiffusion.scale_factor` of SD 1.x/2.x and StableSR. */
export const SD_SCALE_FACTOR = 0.18215;

/** GroupNorm of the VAE (`Normalize`): 32 groups, eps 1e-6. */
export const VAE_NORM_GROUPS = 32;
export const VAE_NORM_EPS = 1e-6;

function fail(where: string, msg: string): never {
  throw new Error(`${where}: ${msg}`);
}

function int(v: unknown, where: string, name: string, min = 1): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) fail(where, `"${name}" must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  return v;
}

function intList(v: unknown, where: string, name: string, allowEmpty: boolean): number[] {
  if (!Array.isArray(v) || (!allowEmpty && v.length === 0)) fail(where, `"${name}" must be a ${allowEmpty ? '' : 'non-empty '}list of integers, got ${JSON.stringify(v)}`);
  return v.map((x, i) => int(x, where, `${name}[${i}]`, allowEmpty ? 0 : 1));
}

/**
 * Validates a reference-style config (`{embed_dim, ddconfig}`, or the YAML form `{target, params: {...}}`).
 * Unknown fields are ignored, as the reference's `**ignore_kwargs` does; wrong types are errors naming the field.
 */
export function parseAutoencoderKLConfig(raw: unknown, where = 'autoencoder config'): AutoencoderKLConfig {
  if (!raw || typeof raw !== 'object') fail(where, 'expected an object {embed_dim, ddconfig}');
  let obj = raw as Record<string, unknown>;
  if (obj.params && typeof obj.params === 'object' && !('ddconfig' in obj)) obj = obj.params as Record<string, unknown>;
  const dd = obj.ddconfig as Record<string, unknown> | undefined;
  if (!dd || typeof dd !== 'object') fail(where, 'missing "ddconfig"');
  const w = `${where}.ddconfig`;
  const attnType = dd.attn_type === undefined ? undefined : String(dd.attn_type);
  if (attnType !== undefined && attnType !== 'vanilla') fail(w, `attn_type "${attnType}" is not supported (only "vanilla")`);
  if (dd.resamp_with_conv === false) fail(w, 'resamp_with_conv = false is not supported');
  if (dd.use_linear_attn === true) fail(w, 'use_linear_attn is not supported');
  if (dd.tanh_out === true || dd.give_pre_end === true) fail(w, 'tanh_out / give_pre_end are not supported');
  const ddconfig: DDConfig = {
    double_z: dd.double_z === undefined ? true : Boolean(dd.double_z),
    z_channels: int(dd.z_channels, w, 'z_channels'),
    resolution: int(dd.resolution, w, 'resolution'),
    in_channels: int(dd.in_channels, w, 'in_channels'),
    out_ch: int(dd.out_ch, w, 'out_ch'),
    ch: int(dd.ch, w, 'ch'),
    ch_mult: intList(dd.ch_mult, w, 'ch_mult', false),
    num_res_blocks: int(dd.num_res_blocks, w, 'num_res_blocks'),
    attn_resolutions: dd.attn_resolutions === undefined ? [] : intList(dd.attn_resolutions, w, 'attn_resolutions', true),
    dropout: typeof dd.dropout === 'number' ? dd.dropout : 0,
  };
  if (dd.num_fuse_block !== undefined) ddconfig.num_fuse_block = int(dd.num_fuse_block, w, 'num_fuse_block');
  return { embed_dim: int(obj.embed_dim, where, 'embed_dim'), ddconfig };
}

/** Number of resolution levels L = len(ch_mult). */
export function numLevels(dd: DDConfig): number {
  return dd.ch_mult.length;
}

/** Spatial downsampling factor f = 2^(L−1) between image and latent. */
export function downsamplingFactor(dd: DDConfig): number {
  return 2 ** (dd.ch_mult.length - 1);
}
