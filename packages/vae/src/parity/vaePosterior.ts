import * as tf from '@tensorflow/tfjs-core';
import { type ParityKind, nhwcToNchw } from '@stablesr/core';
import { diagonalGaussian, disposeDiagonalGaussian, klDiagonalGaussian, modeDiagonalGaussian, sampleDiagonalGaussian } from '../diagonalGaussian.js';
import { listedOutputs } from './fixtureConfig.js';

/** `vae.posterior`: DiagonalGaussianDistribution on given moments (no weights). */
export const vaePosteriorKind: ParityKind = {
  async run(fx) {
    const moments = fx.inputNhwc('moments') as tf.Tensor4D;
    const d = diagonalGaussian(moments);
    try {
      const sample = sampleDiagonalGaussian(d, fx.noise());
      const mode = modeDiagonalGaussian(d);
      const outs: Record<string, tf.Tensor> = tf.tidy(() => ({
        mean: nhwcToNchw(d.mean),
        logvar: nhwcToNchw(d.logvar),
        std: nhwcToNchw(d.std),
        var: nhwcToNchw(d.var),
        sample: nhwcToNchw(sample),
        mode: nhwcToNchw(mode),
        kl: klDiagonalGaussian(d),
      }));
      sample.dispose();
      mode.dispose();
      return listedOutputs(fx, outs, (t) => t.dispose());
    } finally {
      moments.dispose();
      disposeDiagonalGaussian(d);
    }
  },
};
