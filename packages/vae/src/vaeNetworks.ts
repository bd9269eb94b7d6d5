import { type NetworkDefinition } from '@stablesr/core';
import { type AutoencoderKL, decodeOps, encodeMomentsOps } from './autoencoderKL.js';
import { type CfwAutoencoder, cfwDecodeOps, cfwEncodeOps } from './cfw/autoencoderKLResi.js';

// The autoencoder's networks as engine-independent definitions for `compileNetwork` / `runNetworkOnce`: the same
// graphs for the SR pipeline, text-to-latent, the fixtures and the benchmarks. Small enough to upload whole on tfjs.

/** Image [B, H, W, 3] in [−1, 1] → moments (`quant_conv(encoder(x))`). */
export function vaeEncoderNetwork(vae: AutoencoderKL): NetworkDefinition {
  return { name: 'VAE encoder', module: vae, uploadWhole: true, forward: (ops, [image]) => [encodeMomentsOps(ops, vae, image!)] };
}

/** Unscaled latent → image (`decoder(post_quant_conv(z))`). */
export function vaeDecoderNetwork(vae: AutoencoderKL): NetworkDefinition {
  return { name: 'VAE decoder', module: vae, uploadWhole: true, forward: (ops, [z]) => [decodeOps(ops, vae, z!)] };
}

/** Image → [moments, ...encoder features] of the CFW autoencoder. */
export function cfwEncoderNetwork(cfw: CfwAutoencoder): NetworkDefinition {
  return {
    name: 'CFW encoder',
    module: cfw,
    uploadWhole: true,
    forward: (ops, [image]) => {
      const r = cfwEncodeOps(ops, cfw, image!);
      return [r.moments, ...r.encFeatures];
    },
  };
}

/** [unscaled latent, ...encoder features] → image, with fusion weight `w` (part of the graph: one network per value). */
export function cfwDecoderNetwork(cfw: CfwAutoencoder, w: number): NetworkDefinition {
  return { name: `CFW decoder (w=${w})`, module: cfw, uploadWhole: true, forward: (ops, [z, ...enc]) => [cfwDecodeOps(ops, cfw, z!, enc, w)] };
}
