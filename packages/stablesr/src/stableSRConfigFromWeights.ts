import { type WeightView, ldmModelParams, ldmSection } from '@stablesr/core';
import { type AutoencoderKLConfig, autoencoderKLConfigFromWeights } from '@stablesr/vae';
import { STABLESR_PRESETS, type StableSRConfig, parseStableSRConfig } from './stableSRConfig.js';
import { timeAwareEncoderConfigFromWeights } from './timeAwareEncoderConfigFromWeights.js';
import { type EncoderUNetModelWTConfig } from './timeAwareEncoder.js';
import { type UNetModelDualcondV2Config, unetModelDualcondV2ConfigFromWeights } from './unetModelDualcondV2.js';

/** What {@link stableSRConfigFromWeights} reads besides the weights. */
export interface StableSRConfigInputs {
  /**
   * The model configuration as parsed from its file (the official `v2-finetune_text_T_512.yaml` layout, its
   * `model.params`, a manifest's `config.model`, or a {@link StableSRConfig}); absent: the weights and `base` only.
   */
  config?: unknown;
  /** Names the config in errors. */
  source?: string;
  /**
   * The CFW autoencoder's own configuration, as StableSR keeps it in a separate file
   * (`configs/autoencoder/autoencoder_kl_64x64x4_resi.yaml`: `model.params.{embed_dim, ddconfig}`; also
   * `{target, params}` or `{embed_dim, ddconfig}`). It takes the place of a `cfw_config` section of `config`.
   */
  cfwConfig?: unknown;
  /** Names the CFW config in errors. */
  cfwSource?: string;
  /** What neither a config nor the weights say (heads, schedule, parameterization, …). Default: the 512 preset. */
  base?: StableSRConfig;
}

/**
 * The configuration of a StableSR model from its weights: every network section field as the config gives it, else
 * read off the weights (U-Net: {@link unetModelDualcondV2ConfigFromWeights}, time-aware encoder:
 * {@link timeAwareEncoderConfigFromWeights}, first stage and CFW: `autoencoderKLConfigFromWeights`), else from `base`.
 * So a checkpoint needs no YAML to build the network it holds, and a CFW file with another `num_fuse_block` loads
 * under an official YAML (which has no CFW section). What no weight shape shows still comes from the config or
 * `base`: the 768-v model's `parameterization: v` (its tensors have the 512 model's shapes), the heads, the schedule.
 *
 * `checkpoint` is the root of the StableSR checkpoint (`model.diffusion_model.*`, `structcond_stage_model.*`,
 * `first_stage_model.*`), `cfw` the root of the CFW autoencoder file when one is used.
 */
export function stableSRConfigFromWeights(inputs: StableSRConfigInputs, checkpoint: WeightView, cfw?: WeightView): StableSRConfig {
  const base = inputs.base ?? STABLESR_PRESETS['512'];
  const source = inputs.source ?? 'config';
  const parsed = parseStableSRConfig(inputs.config ?? {}, source, base);
  const obj = inputs.config === undefined ? {} : ldmModelParams(inputs.config, source);
  const given = (name: string) => ldmSection(obj, name)?.params;
  const cfwGiven = inputs.cfwConfig !== undefined ? ldmModelParams(inputs.cfwConfig, inputs.cfwSource ?? 'cfw config') : (given('cfw') ?? given('cfw_config'));
  const cfwWhere = inputs.cfwConfig !== undefined ? (inputs.cfwSource ?? 'cfw config') : `${source}: cfw_config`;
  return {
    ...parsed,
    unet_config: unetModelDualcondV2ConfigFromWeights(
      checkpoint.scope('model.diffusion_model.'),
      given('unet_config') as Partial<UNetModelDualcondV2Config> | undefined,
      base.unet_config as unknown as UNetModelDualcondV2Config,
    ) as unknown as Record<string, unknown>,
    structcond_stage_config: timeAwareEncoderConfigFromWeights(
      checkpoint.scope('structcond_stage_model.'),
      given('structcond_stage_config') as Partial<EncoderUNetModelWTConfig> | undefined,
      base.structcond_stage_config as unknown as EncoderUNetModelWTConfig,
    ) as unknown as Record<string, unknown>,
    first_stage_config: autoencoderSection(autoencoderKLConfigFromWeights(checkpoint.scope('first_stage_model.'), given('first_stage_config'), asAutoencoder(base.first_stage_config), `${source}: first_stage_config`)),
    // Without a CFW file the section is unused; it still reflects a CFW config given.
    cfw_config: cfw
      ? autoencoderSection(autoencoderKLConfigFromWeights(cfw, cfwGiven, asAutoencoder(parsed.cfw_config), cfwWhere))
      : ((cfwGiven as StableSRConfig['cfw_config'] | undefined) ?? parsed.cfw_config),
  };
}

// StableSRConfig keeps the autoencoder sections as the YAML's plain objects; the parsed config is one of them.
const asAutoencoder = (s: StableSRConfig['first_stage_config']): AutoencoderKLConfig => s as unknown as AutoencoderKLConfig;
const autoencoderSection = (c: AutoencoderKLConfig): StableSRConfig['first_stage_config'] => c as unknown as StableSRConfig['first_stage_config'];
