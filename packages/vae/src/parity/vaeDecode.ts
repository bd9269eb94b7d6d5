import * as tf from '@tensorflow/tfjs-core';
import { type ParityKind, nhwcToNchw, runNetworkOnce } from '@stablesr/core';
import { disposeAutoencoderKL, loadAutoencoderKL } from '../autoencoderKL.js';
import { vaeDecoderNetwork } from '../vaeNetworks.js';
import { autoencoderConfigOf, scaleFactorOf } from './fixtureConfig.js';

/** `vae.decode`: decoder(post_quant_conv(z)) of an unscaled latent. */
export const vaeDecodeKind: ParityKind = {
  async run(fx, env) {
    const vae = loadAutoencoderKL(autoencoderConfigOf(fx, ['first_stage_config']), fx.weights(0), { scaleFactor: scaleFactorOf(fx) });
    const z = fx.inputNhwc('z') as tf.Tensor4D;
    try {
      const [image] = await runNetworkOnce(vaeDecoderNetwork(vae), env.engine, [z]);
      try {
        return { image: nhwcToNchw(image as tf.Tensor4D) };
      } finally {
        image!.dispose();
      }
    } finally {
      z.dispose();
      disposeAutoencoderKL(vae);
    }
  },
};
