import * as tf from '@tensorflow/tfjs-core';
import { type IRSDESchedule, type MatchingLossType, coefficient, matchingLoss, muBar, x0Loss } from '@stablesr/irsde';

/** The IR-SDE noise network as the trainer calls it (`sde.noise_fn`): state, condition μ, timesteps → predicted noise. */
export type IRSDENoiseForward = (xt: tf.Tensor, mu: tf.Tensor, t: readonly number[]) => tf.Tensor;

/**
 * `IRSDE.generate_random_states` for given timesteps and noise: `x_t = mu_bar(x₀, t) + sigma_bar(t)·noise`, a draw
 * of the closed-form marginal (seed eq. 5), one timestep per batch row.
 */
export function irsdeTrainingState(s: IRSDESchedule, x0: tf.Tensor, mu: tf.Tensor, noise: tf.Tensor, t: readonly number[]): tf.Tensor {
  return tf.tidy(() => tf.add(muBar(s, x0, mu, t), tf.mul(noise, coefficient(s, t, 'IR-SDE training state', (ti) => s.sigmaBars[ti]!))));
}

/**
 * The maximum-likelihood training loss of IR-SDE as `denoising_model.py` `optimize_parameters` computes it: the
 * network's noise at `x_t` gives the score, and {@link matchingLoss} compares the reverse SDE mean from it with the
 * optimal reverse state (`reverse_optimum_step`). Differentiable: call it inside {@link lossAndGradients}.
 */
export function irsdeLoss(s: IRSDESchedule, model: IRSDENoiseForward, xt: tf.Tensor, x0: tf.Tensor, mu: tf.Tensor, t: readonly number[], lossType: MatchingLossType = 'l1', objective: IRSDEObjective = 'irsde-ml'): tf.Scalar {
  return tf.tidy(() => (objective === 'x0' ? x0Loss : matchingLoss)(s, xt, x0, mu, model(xt, mu, t), t, lossType));
}

/** `irsde-ml`: the reference's maximum-likelihood matching loss; `x0`: stablesr's x₀-prediction loss (`x0Loss`). */
export type IRSDEObjective = 'irsde-ml' | 'x0';
