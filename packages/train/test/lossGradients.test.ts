// lossAndGradients on wasm, on a configuration unlike the fixture's (ConditionalUNet nf 4, depth 2, 12×12, 3
// channels, two distinct timesteps, synthetic weights): every parameter's gradient against central finite
// differences of the loss, and no tensor leaks across calls.
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { SeededNoise, recordWeightRequests, syntheticSource, tfjsOps, weightsFromSource } from '@stablesr/core';
import { type ConditionalUNetConfig, conditionalUNetForward, disposeConditionalUNet, irsdeSchedule, loadConditionalUNet, sinusoidalPosEmb } from '@stablesr/irsde';
import { type Parameters, disposeParameters, irsdeLoss, irsdeTrainingState, lossAndGradients, readParameters, tensorWeightView, withTrainingBackend } from '../src/index.js';

const config: ConditionalUNetConfig = { in_nc: 3, out_nc: 3, nf: 4, depth: 2 };
const schedule = irsdeSchedule({ max_sigma: 30, T: 100, schedule: 'cosine', eps: 0.005 });

/** The IR-SDE ML loss (l2: smooth, so finite differences apply; l1's kinks would not) over `p`, on a fixed batch. */
function problem(seed: number): { params: Map<string, tf.Tensor>; loss: (p: Parameters) => tf.Scalar; dispose: () => void } {
  const keys = recordWeightRequests((v) => loadConditionalUNet(config, v), disposeConditionalUNet);
  const params = readParameters(weightsFromSource(syntheticSource(keys, { seed })));
  const noise = new SeededNoise(seed + 1);
  const [gt, mu, n] = [0, 1, 2].map(() => noise.draw([2, 12, 12, 3]));
  const t = [7, 60];
  const xt = irsdeTrainingState(schedule, gt!, mu!, n!, t);
  const loss = (p: Parameters): tf.Scalar =>
    irsdeLoss(schedule, (x, m, ts) => conditionalUNetForward(tfjsOps, loadConditionalUNet(config, tensorWeightView(p)), x, m, sinusoidalPosEmb(ts, config.nf)), xt, gt!, mu!, t, 'l2');
  return { params, loss, dispose: () => (tf.dispose([gt!, mu!, n!, xt]), disposeParameters(params)) };
}

test.serial('every gradient matches central finite differences along a random direction', async (t) => {
  await withTrainingBackend(async () => {
    t.is(tf.getBackend(), 'wasm');
    const { params, loss, dispose } = problem(3);
    const { loss: l0, grads } = lossAndGradients(params, loss);
    const L = l0.dataSync()[0]!;
    l0.dispose();
    // Step along a unit direction d per tensor: the directional derivative ⟨g, d⟩ is ~‖g‖/√n and the step moves every
    // entry by ~h/√n. Two errors bound the quotient (L(p+hd) − L(p−hd))/2h (formed in float64 from float32 losses):
    // truncation h²/6·∂³L, which at h = 0.03 reached 3.5e-2 of ⟨g, d⟩ on the 16-entry bias before a LayerNorm and at
    // h = 0.01 5e-5 there (probed over h = 0.03 … 0.0003): the relative slack 1e-2 at h = 0.01; and the
    // float32 rounding of L, relative ~1e-7…1e-6 after a few hundred float32 ops, worth ≤ 1e-6·L/h in the quotient:
    // the absolute slack (the errors seen were ~0.1 of it).
    const h = 0.01;
    const atol = (1e-6 * L) / h;
    const noise = new SeededNoise(99);
    const failures: string[] = [];
    let resolved = 0;
    for (const [key, p] of params) {
      const d = tf.tidy(() => {
        const r = noise.draw(p.shape);
        return tf.div(r, tf.norm(r));
      });
      const ad = tf.tidy(() => tf.sum(tf.mul(grads.get(key)!, d)).dataSync()[0]!);
      const at = (sign: number): number =>
        tf.tidy(() => {
          const q = new Map(params);
          q.set(key, tf.add(p, tf.mul(d, sign * h)));
          return loss(q).dataSync()[0]!;
        });
      const fd = (at(1) - at(-1)) / (2 * h);
      d.dispose();
      if (Math.abs(fd - ad) > 1e-2 * Math.abs(ad) + atol) failures.push(`${key}: autodiff ${ad.toExponential(4)}, finite differences ${fd.toExponential(4)}`);
      if (Math.abs(ad) > 10 * atol) resolved++;
    }
    t.deepEqual(failures, []);
    // A tensor whose derivative drowns in rounding checks nothing; most must stand well above it (67 of 87 here; below
    // are mostly the attention's, whose synthetic weights barely reach the output). Above 10× the slack the check
    // bounds the gradient's error to 11 %, and the errors seen there were ≤ 1.5 %.
    t.true(resolved >= 0.6 * params.size, `${resolved} of ${params.size} directional derivatives exceed 10× the rounding slack ${atol.toExponential(2)}`);
    tf.dispose([...grads.values()]);
    dispose();
  });
});

test.serial('no tensor leaks across two lossAndGradients calls', async (t) => {
  await withTrainingBackend(async () => {
    const { params, loss, dispose } = problem(4);
    const run = (): number => {
      const { loss: l, grads } = lossAndGradients(params, loss);
      const v = l.dataSync()[0]!;
      tf.dispose([l, ...grads.values()]);
      return v;
    };
    const first = run();
    const before = tf.memory().numTensors;
    const second = run();
    t.is(tf.memory().numTensors, before, 'tensors leaked by a lossAndGradients call');
    t.is(second, first, 'the same parameters give the same loss');
    dispose();
  });
});
