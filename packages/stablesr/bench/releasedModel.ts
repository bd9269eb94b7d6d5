// The released StableSR 512 model's architecture (preset `512`) for benchmarks: configs of each part and the
// key → stored shape list each part's own loader reads, to build synthetic weights of the real sizes.
import { parseAutoencoderKLConfig } from '@stablesr/vae';
import { CHECKPOINT_PARTS, type CheckpointPart, checkpointShapes } from '../src/checkpointShapes.js';
import { STABLESR_PRESETS } from '../src/stableSRConfig.js';
import { type EncoderUNetModelWTConfig } from '../src/timeAwareEncoder.js';
import { type UNetModelDualcondV2Config } from '../src/unetModelDualcondV2.js';

export const CFG = STABLESR_PRESETS['512'];
export const UNET_CFG = CFG.unet_config as unknown as UNetModelDualcondV2Config;
export const ENC_CFG = CFG.structcond_stage_config as unknown as EncoderUNetModelWTConfig;
export const VAE_CFG = parseAutoencoderKLConfig(CFG.first_stage_config, 'first_stage_config');
export const CFW_CFG = parseAutoencoderKLConfig(CFG.cfw_config, 'cfw_config');
export const TEXT_CFG = { text_cfg: CFG.cond_stage_config.text_cfg, layer: CFG.cond_stage_config.layer };
export const SEMB = UNET_CFG.semb_channels!;

export type Part = CheckpointPart;
export const PARTS: readonly Part[] = CHECKPOINT_PARTS;

/** Key → stored shape of one part of the released model, from its own loader. Recorded on the cpu backend: zeros of 3.7 GB do not fit in wasm. */
export function shapesOf(part: Part): Promise<Map<string, number[]>> {
  return checkpointShapes(CFG, part);
}
