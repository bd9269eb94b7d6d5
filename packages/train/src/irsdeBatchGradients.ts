import * as tf from '@tensorflow/tfjs-core';
import { resizeBicubic, tfjsOps } from '@stablesr/core';
import {
  type ConditionalUNetConfig,
  type IRSDEConfig,
  type IRSDESchedule,
  type MatchingLossType,
  type NoiseParameterization,
  conditionalUNetForward,
  irsdeSchedule,
  loadConditionalUNet,
  parameterizedNoiseSync,
  sinusoidalPosEmb,
} from '@stablesr/irsde';
import { type IRSDEObjective, irsdeLoss, irsdeTrainingState } from './irsdeObjective.js';
import { lossAndGradients } from './lossGradients.js';
import { type Parameters, tensorWeightView } from './tensorWeightView.js';

/** What a training step computes, everything but the data: the model and its loss (plain values, so a worker thread can take it). */
export interface IRSDEStepSpec {
  network: Required<ConditionalUNetConfig>;
  sde: Required<IRSDEConfig>;
  parameterization: NoiseParameterization;
  lossType: MatchingLossType;
  objective: IRSDEObjective;
}

/**
 * Some rows of a training batch as plain arrays: HQ patches [rows, P, P, 3], their LQ [rows, P/scale, P/scale, 3],
 * the marginal's standard-normal draws (HQ-shaped) and one timestep per row.
 */
export interface IRSDEBatchRows {
  hq: Float32Array;
  lq: Float32Array;
  noise: Float32Array;
  t: number[];
  patch: number;
  scale: number;
}

/** The differentiable network over `params` (a fresh module load inside the gradient scope). */
export function irsdeNoiseNetwork(config: ConditionalUNetConfig, params: Parameters, schedule: IRSDESchedule, p: NoiseParameterization): (xt: tf.Tensor, mu: tf.Tensor, t: readonly number[]) => tf.Tensor {
  const unet = loadConditionalUNet(config, tensorWeightView(params, 'training parameters'));
  const forward = (x: tf.Tensor, m: tf.Tensor, ts: readonly number[]): tf.Tensor => conditionalUNetForward(tfjsOps, unet, x as tf.Tensor4D, m as tf.Tensor4D, sinusoidalPosEmb(ts, unet.config.nf));
  return (xt, mu, t) => tf.tidy(() => parameterizedNoiseSync(p, schedule, xt, mu, t, forward));
}

/**
 * The loss of `rows` (the mean over their elements, as the full batch's loss is over its own) and its gradient for
 * every parameter: μ = bicubic of the LQ, x_t from the closed-form marginal, then the objective through tfjs
 * autodiff. The same code runs in the trainer's thread and in its gradient workers; the caller owns the gradients.
 */
export function irsdeBatchLossAndGradients(params: Parameters, spec: IRSDEStepSpec, rows: IRSDEBatchRows, schedule: IRSDESchedule = irsdeSchedule(spec.sde)): { loss: number; grads: Map<string, tf.Tensor> } {
  const n = rows.t.length;
  const { patch, scale } = rows;
  const [x0, mu, xt] = tf.tidy(() => {
    const x0 = tf.tensor4d(rows.hq, [n, patch, patch, 3]);
    const lq = tf.tensor4d(rows.lq, [n, patch / scale, patch / scale, 3]);
    const mu = resizeBicubic(lq, patch, patch);
    return [x0, mu, irsdeTrainingState(schedule, x0, mu, tf.tensor4d(rows.noise, [n, patch, patch, 3]), rows.t)];
  });
  try {
    const { loss, grads } = lossAndGradients(params, (p) => irsdeLoss(schedule, irsdeNoiseNetwork(spec.network, p, schedule, spec.parameterization), xt, x0, mu, rows.t, spec.lossType, spec.objective));
    const value = loss.dataSync()[0]!;
    loss.dispose();
    return { loss: value, grads };
  } finally {
    tf.dispose([x0, mu, xt]);
  }
}
