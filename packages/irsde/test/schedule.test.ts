// Properties of the IR-SDE schedule and single-step formulas that follow from their definitions (seed paper,
// sde_utils.py), on configurations unlike the fixtures'.
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { SeededNoise } from '@stablesr/core';
import { THETA_SCHEDULES, initStateFromNoise, irsdeSchedule, meanDecay, muBar, realNoise, reverseOptimumStep, reversePosteriorStep, sigmaBar } from '../src/index.js';

const maxAbs = (a: tf.Tensor, b: tf.Tensor): number => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);

for (const schedule of THETA_SCHEDULES) {
  test(`${schedule}: sigma_bar(T) = λ·√(1 − eps²), e^{−θ̄_T dt} = eps, σ_t²/θ_t = 2λ²`, (t) => {
    const eps = 0.02;
    const s = irsdeSchedule({ max_sigma: 50, T: 37, schedule, eps });
    const lambda = 50 / 255;
    t.is(s.thetas.length, 38);
    t.true(Math.abs(s.maxSigma - lambda) < 1e-7);
    // θ̄_T·dt = −ln eps by construction of dt, so the mean has decayed to eps and the variance to λ²(1 − eps²).
    t.true(Math.abs(meanDecay(s, 37) - eps) < 1e-6, `decay ${meanDecay(s, 37)}`);
    t.true(Math.abs(sigmaBar(s, 37)[0]! - lambda * Math.sqrt(1 - eps * eps)) < 1e-6, `sigma_bar(T) ${sigmaBar(s, 37)[0]}`);
    for (let i = 1; i <= 37; i++) {
      t.true(Math.abs((s.sigmas[i]! * s.sigmas[i]!) / s.thetas[i]! - 2 * lambda * lambda) < 1e-6, `t = ${i}`);
      t.true(s.sigmaBars[i]! > s.sigmaBars[i - 1]!, `sigma_bar increases at t = ${i}`);
    }
    t.is(s.thetasCumsum[0], 0);
    t.is(s.sigmaBars[0], 0);
  });
}

test('max_sigma below 1 is already λ; bad options are errors naming them', (t) => {
  t.true(Math.abs(irsdeSchedule({ max_sigma: 0.25, T: 10 }).maxSigma - 0.25) < 1e-7);
  t.throws(() => irsdeSchedule({ max_sigma: 30, T: 0 }), { message: /T must be a positive integer/ });
  t.throws(() => irsdeSchedule({ max_sigma: 30, eps: 1.5 }), { message: /eps/ });
  t.throws(() => irsdeSchedule({ max_sigma: -1 }), { message: /max_sigma/ });
  t.throws(() => irsdeSchedule({ max_sigma: 30, schedule: 'quadratic' as never }), { message: /unknown schedule "quadratic"/ });
  const s = irsdeSchedule({ max_sigma: 30, T: 10 });
  t.throws(() => sigmaBar(s, 11), { message: /timestep 11 is outside 1 … 10/ });
});

test('Proposition 3.2: the optimal reverse state of a noise-free x_t is mu_bar(x0, t − 1), per-sample t', (t) => {
  const s = irsdeSchedule({ max_sigma: 20, T: 15, schedule: 'linear', eps: 0.01 });
  const noise = new SeededNoise(5);
  const [x0, mu] = [noise.draw([3, 5, 7, 2]), noise.draw([3, 5, 7, 2])];
  const ts = [1, 8, 15];
  const xt = muBar(s, x0!, mu!, ts);
  const got = reverseOptimumStep(s, xt, x0!, mu!, ts);
  // t − 1 = 0 is the start state itself: mu_bar(x0, 0) = x0.
  const want = tf.concat([tf.slice(x0!, [0], [1]), muBar(s, tf.slice(x0!, [1], [2]), tf.slice(mu!, [1], [2]), [7, 14])]);
  t.true(maxAbs(got, want) < 1e-5, `max |Δ| ${maxAbs(got, want)}`);
  tf.dispose([x0!, mu!, xt, got, want]);
});

test('the posterior step with the true noise and no draw is the optimal reverse state; init state inverts the marginal', (t) => {
  const s = irsdeSchedule({ max_sigma: 30, T: 20, schedule: 'cosine', eps: 0.005 });
  const noise = new SeededNoise(9);
  const [x0, mu, n] = [noise.draw([2, 6, 4, 3]), noise.draw([2, 6, 4, 3]), noise.draw([2, 6, 4, 3])];
  const ts = [4, 17];
  const xt = tf.tidy(() => tf.add(muBar(s, x0!, mu!, ts), tf.mul(n!, tf.tensor4d(sigmaBar(s, ts), [2, 1, 1, 1]))));
  const back = realNoise(s, xt, x0!, mu!, ts);
  t.true(maxAbs(back, n!) < 1e-4, `real noise ${maxAbs(back, n!)}`);
  const x0Hat = initStateFromNoise(s, xt, mu!, n!, ts);
  t.true(maxAbs(x0Hat, x0!) < 1e-4, `init state ${maxAbs(x0Hat, x0!)}`);
  const zero = tf.zerosLike(xt);
  const post = reversePosteriorStep(s, xt, mu!, n!, ts, zero);
  const opt = reverseOptimumStep(s, xt, x0!, mu!, ts);
  t.true(maxAbs(post, opt) < 1e-4, `posterior ${maxAbs(post, opt)}`);
  tf.dispose([x0!, mu!, n!, xt, back, x0Hat, zero, post, opt]);
});
