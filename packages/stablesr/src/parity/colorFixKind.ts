import * as tf from '@tensorflow/tfjs-core';
import { type Fixture, type ParityKind } from '@stablesr/core';
import { adainColorFix } from '../adain.js';
import { waveletColorFix } from '../waveletColorFix.js';

function nchw(t: tf.Tensor4D): tf.Tensor4D {
  return tf.transpose(t, [0, 3, 1, 2]);
}

/** Kind `colorfix`: scripts/wavelet_color_fix.py on stored content/style (README 7.11). */
export const colorFixKind: ParityKind = {
  async run(fx: Fixture) {
    const levels = (fx.config.wavelet_levels as number | undefined) ?? 5;
    const eps = (fx.config.adain_eps as number | undefined) ?? 1e-5;
    const content = fx.inputNhwc('content') as tf.Tensor4D;
    const style = fx.inputNhwc('style') as tf.Tensor4D;
    try {
      return tf.tidy(() => ({
        adain: nchw(adainColorFix(content, style, eps)),
        wavelet: nchw(waveletColorFix(content, style, levels)),
      }));
    } finally {
      tf.dispose([content, style]);
    }
  },
};
