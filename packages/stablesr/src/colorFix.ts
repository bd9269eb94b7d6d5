import type * as tf from '@tensorflow/tfjs-core';
import { ADAIN_EPS, adainColorFix } from './adain.js';
import { WAVELET_LEVELS, waveletColorFix } from './waveletColorFix.js';

export type ColorFixKind = 'wavelet' | 'adain' | 'none';
export const COLOR_FIX_KINDS: readonly ColorFixKind[] = ['wavelet', 'adain', 'none'];

export interface ColorFixOptions {
  waveletLevels?: number;
  adainEps?: number;
}

/** Matches the decoded image's colours to the (pre-processed) input: `none` returns a copy. NHWC. */
export function applyColorFix(kind: ColorFixKind, content: tf.Tensor4D, style: tf.Tensor4D, opts: ColorFixOptions = {}): tf.Tensor4D {
  switch (kind) {
    case 'wavelet':
      return waveletColorFix(content, style, opts.waveletLevels ?? WAVELET_LEVELS);
    case 'adain':
      return adainColorFix(content, style, opts.adainEps ?? ADAIN_EPS);
    case 'none':
      return content.clone();
    default:
      throw new Error(`colorFix: unknown colour fix "${String(kind)}" (choose one of ${COLOR_FIX_KINDS.join(', ')})`);
  }
}
