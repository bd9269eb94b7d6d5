import * as tf from '@tensorflow/tfjs-core';
import { type Linear, type Ops, type WeightView, loadLinear, tfjsOps } from '@stablesr/core';
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

/**
 * `time_embed(tEmb)` on any engine: `tEmb` is the sinusoidal embedding [B, C] ({@link timestepEmbedding}, host math,
 * an input value of the generic forwards) → [B, 4C].
 */
export function timeEmbedForwardOps<T>(ops: Ops<T>, m: TimeEmbed, tEmb: T): T {
  return ops.scope(() => ops.linear(m[2], ops.silu(ops.linear(m[0], tEmb))));
}

/** `time_embed(timestep_embedding(t, C))` → [B, 4C] on TensorFlow.js. */
export function timeEmbedForward(m: TimeEmbed, timesteps: ArrayLike<number>): tf.Tensor2D {
  return tf.tidy(() => timeEmbedForwardOps(tfjsOps, m, timestepEmbedding(timesteps, m.modelChannels)) as tf.Tensor2D);
}
