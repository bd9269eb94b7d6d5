// adamStep / adamWStep against torch's update rules written out in plain float64 JS (torch.optim.Adam / AdamW
// documentation, single-tensor path), three steps on a small tensor with gradients that change sign and size.
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { type AdamOptions, type AdamState, ADAM_INITIAL_STATE, adamStep, adamWStep, disposeAdamState } from '../src/index.js';

const p0 = [0.5, -1.25, 2, 0.001, -0.3, 0];
const gradsPerStep = [
  [0.1, -0.2, 0.3, -1e-4, 2, 0],
  [-0.05, 0.4, 0.3, 1e-4, -1, 0.5],
  [0.2, 0.1, -0.6, 3e-4, 0.5, -0.25],
];

/**
 * torch's pseudo-code: g ← g + λθ (Adam) or θ ← θ(1 − γλ) (AdamW); m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²;
 * m̂ = m/(1−β₁ᵗ); v̂ = v/(1−β₂ᵗ); θ ← θ − γ·m̂/(√v̂ + ε). (torch's kernel reorders it as γ/(1−β₁ᵗ)·m/(√v/√(1−β₂ᵗ) + ε),
 * the same number up to rounding.)
 */
function reference(decoupled: boolean, o: Required<AdamOptions>): number[][] {
  const [b1, b2] = o.betas;
  let p = [...p0];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  const out: number[][] = [];
  gradsPerStep.forEach((gs, s) => {
    const t = s + 1;
    p = p.map((pi, i) => {
      let g = gs[i]!;
      let q = pi;
      if (decoupled) q = q * (1 - o.lr * o.weightDecay);
      else g = g + o.weightDecay * pi;
      m[i] = b1 * m[i]! + (1 - b1) * g;
      v[i] = b2 * v[i]! + (1 - b2) * g * g;
      const mHat = m[i]! / (1 - b1 ** t);
      const vHat = v[i]! / (1 - b2 ** t);
      return q - (o.lr * mHat) / (Math.sqrt(vHat) + o.eps);
    });
    out.push([...p]);
  });
  return out;
}

function ours(step: typeof adamStep, o: AdamOptions): number[][] {
  const before = tf.memory().numTensors;
  let params = new Map<string, tf.Tensor>([['w', tf.tensor1d(p0)]]);
  let state: AdamState = ADAM_INITIAL_STATE;
  const out: number[][] = [];
  for (const gs of gradsPerStep) {
    const grads = new Map([['w', tf.tensor1d(gs)]]);
    const r = step(params, grads, state, o);
    tf.dispose([...params.values(), ...grads.values()]);
    disposeAdamState(state);
    params = r.params;
    state = r.state;
    out.push([...params.get('w')!.dataSync()]);
  }
  tf.dispose([...params.values()]);
  disposeAdamState(state);
  if (tf.memory().numTensors !== before) throw new Error(`${tf.memory().numTensors - before} tensor(s) leaked over three steps`);
  return out;
}

// Large lr and small betas so that three steps move the parameters far enough to tell the rules apart.
const options: Required<AdamOptions>[] = [
  { lr: 0.1, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 },
  { lr: 0.05, betas: [0.8, 0.95], eps: 1e-3, weightDecay: 0.1 },
];

for (const o of options) {
  for (const [name, step, decoupled] of [['Adam', adamStep, false], ['AdamW', adamWStep, true]] as const) {
    test(`${name} (lr ${o.lr}, betas ${o.betas}, eps ${o.eps}, weight decay ${o.weightDecay}): three steps equal torch's formulas`, (t) => {
      const want = reference(decoupled, o);
      const got = ours(step, o);
      for (let s = 0; s < want.length; s++) {
        for (let i = 0; i < p0.length; i++) {
          // Float32 tensors against float64: a few ulps of the parameter's size.
          t.true(Math.abs(got[s]![i]! - want[s]![i]!) <= 1e-6 * Math.max(1, Math.abs(want[s]![i]!)), `step ${s + 1} entry ${i}: ${got[s]![i]} vs ${want[s]![i]}`);
        }
      }
      // Not vacuous: the parameters moved by far more than the tolerance.
      t.true(Math.abs(want[2]![0]! - p0[0]!) > 1e-2);
    });
  }
}

test('AdamW decays by default (λ 1e-2) and Adam does not', (t) => {
  const zero = { lr: 0.1, betas: [0.9, 0.999] as const, eps: 1e-8 };
  const a = ours(adamStep, zero);
  const w = ours(adamWStep, zero);
  const wantW = reference(true, { ...zero, betas: [0.9, 0.999], weightDecay: 1e-2 });
  const wantA = reference(false, { ...zero, betas: [0.9, 0.999], weightDecay: 0 });
  t.true(Math.abs(w[2]![2]! - wantW[2]![2]!) <= 1e-6 * Math.abs(wantW[2]![2]!));
  t.true(Math.abs(a[2]![2]! - wantA[2]![2]!) <= 1e-6 * Math.abs(wantA[2]![2]!));
  t.true(Math.abs(wantW[2]![2]! - wantA[2]![2]!) > 1e-3, 'the default decay changes the result');
});

test('a missing gradient is an error and leaks nothing', (t) => {
  const params = new Map([['w', tf.tensor1d(p0)], ['b', tf.tensor1d([1])]]);
  const grads = new Map([['w', tf.tensor1d(p0)]]);
  const before = tf.memory().numTensors;
  t.throws(() => adamStep(params, grads, ADAM_INITIAL_STATE), { message: /no gradient for parameter b/ });
  t.is(tf.memory().numTensors, before);
  tf.dispose([...params.values(), ...grads.values()]);
});
