import * as tf from '@tensorflow/tfjs-core';
import { type ParityKind, nhwcToNchw } from '@stablesr/core';
import { decode, disposeAutoencoderKL, loadAutoencoderKL } from '../autoencoderKL.js';
import { autoencoderConfigOf, scaleFactorOf } from './fixtureConfig.js';

/** `vae.decode`: decoder(post_quant_conv(z)) of an unscaled latent. */
export const vaeDecodeKind: ParityKind = {
  async run(fx) {
    const vae = loadAutoencoderKL(autoencoderConfigOf(fx, ['first_stage_config']), fx.weights(0), { scaleFactor: scaleFactorOf(fx) });
    const z = fx.inputNhwc('z') as tf.Tensor4D;
    try {
      return { image: tf.tidy(() => nhwcToNchw(decode(vae, z))) };
    } finally {
      z.dispose();
      disposeAutoencoderKL(vae);
    }
  },
};
