import * as tf from '@tensorflow/tfjs-core';
import { type ParityKind, nhwcToNchw, runNetworkOnce } from '@stablesr/core';
import { decodeOps, disposeAutoencoderKL, loadAutoencoderKL } from '../autoencoderKL.js';
import { autoencoderConfigOf, scaleFactorOf } from './fixtureConfig.js';

/** `vae.decode`: decoder(post_quant_conv(z)) of an unscaled latent. */
export const vaeDecodeKind: ParityKind = {
  async run(fx, env) {
    const vae = loadAutoencoderKL(autoencoderConfigOf(fx, ['first_stage_config']), fx.weights(0), { scaleFactor: scaleFactorOf(fx) });
    const z = fx.inputNhwc('z') as tf.Tensor4D;
    try {
      const [image] = await runNetworkOnce({ name: 'VAE decoder', module: vae, uploadWhole: true, forward: (ops, [x]) => [decodeOps(ops, vae, x!)] }, env.engine, [z]);
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
