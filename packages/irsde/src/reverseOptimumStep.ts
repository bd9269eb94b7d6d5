import * as tf from '@tensorflow/tfjs-core';
import { type IRSDESchedule } from './irsdeSchedule.js';
import { type Timesteps, coefficient } from './timesteps.js';

const f = Math.fround;

/** e^{−k·v·dt} in float32. */
const decay = (s: IRSDESchedule, k: number, v: number): number => f(Math.exp(f(f(-k * v) * s.dt)));

/**
 * The two weights of the optimal reverse state (seed Proposition 3.2): with A = e^{−θ_t dt}, B = e^{−θ̄_t dt},
 * C = e^{−θ̄_{t−1} dt}, `x*_{t−1} − μ = A(1−C²)/(1−B²)·(x_t − μ) + C(1−A²)/(1−B²)·(x₀ − μ)`.
 */
function optimumWeights(s: IRSDESchedule, t: number): [number, number] {
  const A = decay(s, 1, s.thetas[t]!);
  const B = decay(s, 1, s.thetasCumsum[t]!);
  const C = decay(s, 1, s.thetasCumsum[t - 1]!);
  const den = f(1 - f(B * B));
  return [f(f(A * f(1 - f(C * C))) / den), f(f(C * f(1 - f(A * A))) / den)];
}

/**
 * `reverse_optimum_step`: the state x*_{t−1} that maximises the likelihood of the reverse transition given x_t and
 * x₀ (seed Proposition 3.2); the ML loss pulls the reverse SDE's mean onto it.
 */
export function reverseOptimumStep(s: IRSDESchedule, xt: tf.Tensor, x0: tf.Tensor, mu: tf.Tensor, t: Timesteps): tf.Tensor {
  return tf.tidy(() => {
    const w1 = coefficient(s, t, 'IR-SDE optimum step', (ti) => optimumWeights(s, ti)[0]);
    const w2 = coefficient(s, t, 'IR-SDE optimum step', (ti) => optimumWeights(s, ti)[1]);
    return tf.add(tf.add(tf.mul(w1, tf.sub(xt, mu)), tf.mul(w2, tf.sub(x0, mu))), mu);
  });
}

/**
 * `reverse_optimum_std`: the std of the posterior q(x_{t−1} | x_t, x₀), `λ·√((1−A²)(1−C²)/(1−B²))` with the
 * variance floored at 1e-20·dt before its log, as the reference does. One value per timestep.
 */
export function reverseOptimumStd(s: IRSDESchedule, t: Timesteps): number[] {
  return (typeof t === 'number' ? [t] : [...t]).map((ti) => optimumStd(s, ti));
}

/** {@link reverseOptimumStd} of one timestep. */
export function optimumStd(s: IRSDESchedule, t: number): number {
  if (!Number.isInteger(t) || t < 1 || t > s.T) throw new Error(`IR-SDE optimum std: timestep ${t} is outside 1 … ${s.T}`);
  const A = decay(s, 2, s.thetas[t]!);
  const B = decay(s, 2, s.thetasCumsum[t]!);
  const C = decay(s, 2, s.thetasCumsum[t - 1]!);
  const variance = f(f(f(1 - A) * f(1 - C)) / f(1 - B));
  const floor = f(1e-20 * s.dt);
  return f(f(Math.exp(f(0.5 * f(Math.log(Math.max(variance, floor)))))) * s.maxSigma);
}
