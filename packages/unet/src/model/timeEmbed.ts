import * as tf from '@tensorflow/tfjs-core';
import { type Linear, type WeightView, linear, loadLinear, silu } from '@stablesr/core';
import { timestepEmbedding } from './timestepEmbedding.js';

/** `time_embed` = Sequential(Linear(C → 4C), SiLU, Linear(4C → 4C)); keys `time_embed.0.*`, `time_embed.2.*`. */
export interface TimeEmbed {
  readonly modelChannels: number;
  readonly embedDim: number;
  readonly 0: Linear;
  readonly 2: Linear;
}

export function loadTimeEmbed(view: WeightView, modelChannels: number, embedDim = 4 * modelChannels): TimeEmbed {
  return { modelChannels, embedDim, 0: loadLinear(view, '0', modelChannels, embedDim), 2: loadLinear(view, '2', embedDim, embedDim) };
}

/** `time_embed(timestep_embedding(t, C))` → [B, 4C]. */
export function timeEmbedForward(m: TimeEmbed, timesteps: ArrayLike<number>): tf.Tensor2D {
  return tf.tidy(() => linear(m[2], silu(linear(m[0], timestepEmbedding(timesteps, m.modelChannels)))) as tf.Tensor2D);
}
