import * as tf from '@tensorflow/tfjs-core';
import './registerGradients.js';
import { type Parameters } from './tensorWeightView.js';

/** A training loss as a function of the parameters (one backward from zero gradients, as `loss.backward()`). */
export type ParameterLoss = (params: Parameters) => tf.Scalar;

/** The loss and d loss / d parameter for every key, each gradient shaped like its parameter; the caller owns both. */
export interface LossAndGradients {
  loss: tf.Scalar;
  grads: Map<string, tf.Tensor>;
}

/**
 * Evaluates `loss` and its gradient with tfjs autodiff (`tf.valueAndGrads`). `loss` must build whatever it needs
 * from the parameters it is given (e.g. load the module through {@link tensorWeightView}) so that the tape sees the
 * path from each parameter to the loss; every intermediate is released. Run it on a backend with gradient kernels
 * (wasm, cpu or tensorflow; {@link withTrainingBackend} picks the fastest); a parameter the loss does not reach is an
 * error.
 */
export function lossAndGradients(params: Parameters, loss: ParameterLoss): LossAndGradients {
  const keys = [...params.keys()];
  const f = tf.valueAndGrads((...xs: tf.Tensor[]) => loss(new Map(keys.map((k, i) => [k, xs[i]!]))));
  const { value, grads } = f(keys.map((k) => params.get(k)!));
  return { loss: value, grads: new Map(keys.map((k, i) => [k, grads[i]!])) };
}
