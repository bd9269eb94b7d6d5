import type * as tf from '@tensorflow/tfjs-core';
import { type ParityKind, nhwcToNchw, runNetworkOnce } from '@stablesr/core';
import { disposeAutoencoderKL, disposeEncodeResult, loadAutoencoderKL, posteriorFromMoments } from '../autoencoderKL.js';
import { vaeEncoderNetwork } from '../vaeNetworks.js';
import { autoencoderConfigOf, listedOutputs, scaleFactorOf } from './fixtureConfig.js';

/** `vae.encode`: moments, posterior and scaled latent with the recorded posterior noise. */
export const vaeEncodeKind: ParityKind = {
  async run(fx, env) {
    const vae = loadAutoencoderKL(autoencoderConfigOf(fx, ['first_stage_config']), fx.weights(0), { scaleFactor: scaleFactorOf(fx) });
    const x = fx.inputNhwc('x') as tf.Tensor4D;
    try {
      const [moments] = await runNetworkOnce(vaeEncoderNetwork(vae), env.engine, [x]);
      const r = posteriorFromMoments(moments as tf.Tensor4D, vae.scaleFactor, fx.noise());
      const outs = { moments: nhwcToNchw(r.moments), mean: nhwcToNchw(r.mean), logvar: nhwcToNchw(r.logvar), std: nhwcToNchw(r.std), latent: nhwcToNchw(r.latent) };
      disposeEncodeResult(r);
      return listedOutputs(fx, outs, (t) => t.dispose());
    } finally {
      x.dispose();
      disposeAutoencoderKL(vae);
    }
  },
};
