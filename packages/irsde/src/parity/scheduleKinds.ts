import * as tf from '@tensorflow/tfjs-core';
import { type ParityKinds, nhwcToNchw } from '@stablesr/core';
import { muBar, realNoise, sigmaBar } from '../marginal.js';
import { type MatchingLossType, matchingLoss } from '../matchingLoss.js';
import { initStateFromNoise, reversePosteriorStep } from '../posteriorStep.js';
import { reverseOdeStep } from '../reverseOdeStep.js';
import { reverseOptimumStd, reverseOptimumStep } from '../reverseOptimumStep.js';
import { reverseSdeStep, reverseSdeStepMean } from '../reverseSdeStep.js';
import { scoreFromNoise } from '../score.js';
import { fixtureSchedule } from './fixtureSchedule.js';
import { fixtureInts } from '@stablesr/core';

/** Kinds `irsde.schedule` and `irsde.step` (README 7.18): the schedule arrays and every single-step formula. */
export const scheduleKinds: ParityKinds = {
  'irsde.schedule': {
    async run(fx) {
      const s = fixtureSchedule(fx);
      return {
        thetas: s.thetas,
        sigmas: s.sigmas,
        thetas_cumsum: s.thetasCumsum,
        sigma_bars: s.sigmaBars,
        dt: Float32Array.of(s.dt),
        max_sigma: Float32Array.of(s.maxSigma),
      };
    },
  },
  'irsde.step': {
    async run(fx) {
      const s = fixtureSchedule(fx);
      const t = fixtureInts(fx, 't');
      const [x0, mu, xt, noisePred] = ['x0', 'mu', 'xt', 'noise_pred'].map((k) => fx.inputNhwc(k));
      const noise = fx.noise();
      try {
        // Draw order of the reference: noise.0 in reverse_sde_step, noise.1 in reverse_posterior_step.
        const z0 = noise.draw(xt!.shape, 'step');
        const z1 = noise.draw(xt!.shape, 'step');
        const nchw = (f: () => tf.Tensor): tf.Tensor => tf.tidy(() => nhwcToNchw(f() as tf.Tensor4D));
        try {
          const score = scoreFromNoise(s, noisePred!, t);
          try {
            return {
              mu_bar: nchw(() => muBar(s, x0!, mu!, t)),
              sigma_bar: sigmaBar(s, t),
              score: nchw(() => score.clone()),
              sde_step_mean: nchw(() => reverseSdeStepMean(s, xt!, mu!, score, t)),
              ode_step: nchw(() => reverseOdeStep(s, xt!, mu!, score, t)),
              optimum_step: nchw(() => reverseOptimumStep(s, xt!, x0!, mu!, t)),
              optimum_std: reverseOptimumStd(s, t),
              init_state: nchw(() => initStateFromNoise(s, xt!, mu!, noisePred!, t)),
              real_noise: nchw(() => realNoise(s, xt!, x0!, mu!, t)),
              sde_step: nchw(() => reverseSdeStep(s, xt!, mu!, score, t, z0)),
              posterior_step: nchw(() => reversePosteriorStep(s, xt!, mu!, noisePred!, t, z1)),
              ml_loss: tf.tidy(() => tf.reshape(matchingLoss(s, xt!, x0!, mu!, noisePred!, t, (fx.config.loss_type ?? 'l1') as MatchingLossType), [1])),
            };
          } finally {
            score.dispose();
          }
        } finally {
          tf.dispose([z0, z1]);
        }
      } finally {
        tf.dispose([x0!, mu!, xt!, noisePred!]);
      }
    },
  },
};
