import { recordWeightRequests } from '@stablesr/core';
import { disposeFrozenOpenClipEmbedder, disposeUNet, loadFrozenOpenClipEmbedder, loadUNet } from '@stablesr/unet';
import { disposeAutoencoderKL, disposeCfwAutoencoder, loadAutoencoderKL, loadCfwAutoencoder, parseAutoencoderKLConfig } from '@stablesr/vae';
import { spadeExtension } from './spade.js';
import { type StableSRConfig } from './stableSRConfig.js';
import { type EncoderUNetModelWTConfig, disposeTimeAwareEncoder, loadTimeAwareEncoder } from './timeAwareEncoder.js';
import { type UNetModelDualcondV2Config } from './unetModelDualcondV2.js';

/** The parts of a StableSR checkpoint (`cfw`: the separate CFW autoencoder file). */
export type CheckpointPart = 'unet' | 'structcond' | 'vae' | 'cfw' | 'text';
export const CHECKPOINT_PARTS: readonly CheckpointPart[] = ['unet', 'structcond', 'vae', 'cfw', 'text'];

/**
 * Key → stored shape of one part of the checkpoint a configuration describes, read off the part's own loader
 * (so the list is exactly what loading asks for), for synthetic weights of any configuration (benchmarks at the
 * released sizes, tests with tiny models). Run it on the cpu backend for large models: the recorder builds zeros.
 */
export async function checkpointShapes(config: StableSRConfig, part: CheckpointPart): Promise<Map<string, number[]>> {
  const unet = config.unet_config as unknown as UNetModelDualcondV2Config;
  switch (part) {
    case 'unet':
      // loadStableSRUNet probes the file for SPADE keys; the recording view has none, so the inner loader is recorded.
      return recordWeightRequests((v) => loadUNet(unet, v, spadeExtension(unet.semb_channels!)), disposeUNet, 'model.diffusion_model.');
    case 'structcond':
      return recordWeightRequests((v) => loadTimeAwareEncoder(config.structcond_stage_config as unknown as EncoderUNetModelWTConfig, v), disposeTimeAwareEncoder, 'structcond_stage_model.');
    case 'vae':
      return recordWeightRequests((v) => loadAutoencoderKL(parseAutoencoderKLConfig(config.first_stage_config, 'first_stage_config'), v, { strict: false }), disposeAutoencoderKL, 'first_stage_model.');
    case 'cfw':
      return recordWeightRequests((v) => loadCfwAutoencoder(parseAutoencoderKLConfig(config.cfw_config, 'cfw_config'), v, { strict: false }), disposeCfwAutoencoder);
    case 'text':
      // The file holds all blocks; with `penultimate` the loader reads one fewer (recorded with `last` to list them all).
      return recordWeightRequests((v) => loadFrozenOpenClipEmbedder({ text_cfg: config.cond_stage_config.text_cfg, layer: 'last' }, v), disposeFrozenOpenClipEmbedder, 'cond_stage_model.');
  }
}
