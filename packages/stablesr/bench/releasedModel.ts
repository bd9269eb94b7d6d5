// The released StableSR 512 model's architecture (preset `512`) for benchmarks: configs of each part and the
// key → stored shape list each part's own loader reads, to build synthetic weights of the real sizes.
import { recordWeightRequests } from '@stablesr/core';
import { disposeFrozenOpenClipEmbedder, disposeUNet, loadFrozenOpenClipEmbedder, loadUNet } from '@stablesr/unet';
import { disposeAutoencoderKL, disposeCfwAutoencoder, loadAutoencoderKL, loadCfwAutoencoder, parseAutoencoderKLConfig } from '@stablesr/vae';
import { spadeExtension } from '../src/spade.js';
import { STABLESR_PRESETS } from '../src/stableSRConfig.js';
import { type EncoderUNetModelWTConfig, disposeTimeAwareEncoder, loadTimeAwareEncoder } from '../src/timeAwareEncoder.js';
import { type UNetModelDualcondV2Config } from '../src/unetModelDualcondV2.js';

export const CFG = STABLESR_PRESETS['512'];
export const UNET_CFG = CFG.unet_config as unknown as UNetModelDualcondV2Config;
export const ENC_CFG = CFG.structcond_stage_config as unknown as EncoderUNetModelWTConfig;
export const VAE_CFG = parseAutoencoderKLConfig(CFG.first_stage_config, 'first_stage_config');
export const CFW_CFG = parseAutoencoderKLConfig(CFG.cfw_config, 'cfw_config');
export const TEXT_CFG = { text_cfg: CFG.cond_stage_config.text_cfg, layer: CFG.cond_stage_config.layer };
export const SEMB = UNET_CFG.semb_channels!;

export type Part = 'unet' | 'structcond' | 'vae' | 'cfw' | 'text';
export const PARTS: Part[] = ['unet', 'structcond', 'vae', 'cfw', 'text'];

/** Key → stored shape of one part, from its own loader. Recorded on the cpu backend: zeros of 3.7 GB do not fit in wasm. */
export async function shapesOf(part: Part): Promise<Map<string, number[]>> {
  switch (part) {
    case 'unet':
      // loadStableSRUNet probes the file for SPADE keys; the recording view has none, so the inner loader is recorded.
      return recordWeightRequests((v) => loadUNet(UNET_CFG, v, spadeExtension(SEMB)), disposeUNet, 'model.diffusion_model.');
    case 'structcond':
      return recordWeightRequests((v) => loadTimeAwareEncoder(ENC_CFG, v), disposeTimeAwareEncoder, 'structcond_stage_model.');
    case 'vae':
      return recordWeightRequests((v) => loadAutoencoderKL(VAE_CFG, v, { strict: false }), disposeAutoencoderKL, 'first_stage_model.');
    case 'cfw':
      return recordWeightRequests((v) => loadCfwAutoencoder(CFW_CFG, v, { strict: false }), disposeCfwAutoencoder);
    case 'text':
      // The file holds all blocks; with `penultimate` the loader reads one fewer (recorded with `last` to list them all).
      return recordWeightRequests((v) => loadFrozenOpenClipEmbedder({ ...TEXT_CFG, layer: 'last' }, v), disposeFrozenOpenClipEmbedder, 'cond_stage_model.');
  }
}

