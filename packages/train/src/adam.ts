import * as tf from '@tensorflow/tfjs-core';

/** Hyper-parameters of `torch.optim.Adam` / `AdamW` (same names, same defaults as torch's `Adam`). */
export interface AdamOptions {
  /** Default 1e-3. */
  lr?: number;
  /** (β₁, β₂). Default (0.9, 0.999). */
  betas?: readonly [number, number];
  /** Added to √v̂ (outside the square root). Default 1e-8. */
  eps?: number;
  /** L2 penalty added to the gradient (Adam) or decoupled decay of the parameters (AdamW). Default 0 (AdamW: 1e-2). */
  weightDecay?: number;
}

/** Per-parameter moments and the shared step count; `step` 0 with empty maps is the fresh state. */
export interface AdamState {
  readonly step: number;
  readonly expAvg: ReadonlyMap<string, tf.Tensor>;
  readonly expAvgSq: ReadonlyMap<string, tf.Tensor>;
}

/** The parameters and state after one step; all tensors are new and the caller's. */
export interface AdamResult {
  params: Map<string, tf.Tensor>;
  state: AdamState;
}

/** A fresh optimizer state (torch's lazily created zero moments). */
export const ADAM_INITIAL_STATE: AdamState = { step: 0, expAvg: new Map(), expAvgSq: new Map() };

/**
 * One step of `torch.optim.Adam` (single-tensor path): with weight decay λ the gradient becomes `g + λ·p`;
 * `m = β₁m + (1−β₁)g`, `v = β₂v + (1−β₂)g²`, `p ← p − lr/(1−β₁ᵗ) · m / (√v/√(1−β₂ᵗ) + eps)`. Scalars are computed
 * in double precision and tensors in float32, as torch does. Pure: inputs are not changed or disposed.
 */
export function adamStep(params: ReadonlyMap<string, tf.Tensor>, grads: ReadonlyMap<string, tf.Tensor>, state: AdamState, opts: AdamOptions = {}): AdamResult {
  return step(params, grads, state, opts, false);
}

/**
 * One step of `torch.optim.AdamW`: the parameters first decay by `p ← p·(1 − lr·λ)` (decoupled, Loshchilov &
 * Hutter 2019; default λ 1e-2), then the {@link adamStep} update without the L2 term. Pure.
 */
export function adamWStep(params: ReadonlyMap<string, tf.Tensor>, grads: ReadonlyMap<string, tf.Tensor>, state: AdamState, opts: AdamOptions = {}): AdamResult {
  return step(params, grads, state, { ...opts, weightDecay: opts.weightDecay ?? 1e-2 }, true);
}

function step(params: ReadonlyMap<string, tf.Tensor>, grads: ReadonlyMap<string, tf.Tensor>, state: AdamState, opts: AdamOptions, decoupled: boolean): AdamResult {
  const lr = opts.lr ?? 1e-3;
  const [beta1, beta2] = opts.betas ?? [0.9, 0.999];
  const eps = opts.eps ?? 1e-8;
  const wd = opts.weightDecay ?? 0;
  const t = state.step + 1;
  const stepSize = lr / (1 - beta1 ** t);
  const bc2Sqrt = Math.sqrt(1 - beta2 ** t);
  const out: AdamResult = { params: new Map(), state: { step: t, expAvg: new Map(), expAvgSq: new Map() } };
  try {
    for (const [key, p] of params) {
      const g0 = grads.get(key);
      if (!g0) throw new Error(`Adam: no gradient for parameter ${key}`);
      const [np, m, v] = tf.tidy(() => {
        const p1 = decoupled && wd !== 0 ? tf.mul(p, 1 - lr * wd) : p;
        const g = !decoupled && wd !== 0 ? tf.add(g0, tf.mul(p, wd)) : g0;
        const mPrev = state.expAvg.get(key);
        const vPrev = state.expAvgSq.get(key);
        // torch's `lerp_(g, 1−β₁)` is m + (1−β₁)(g − m); from zero moments that is (1−β₁)g.
        const m = mPrev ? tf.add(mPrev, tf.mul(tf.sub(g, mPrev), 1 - beta1)) : tf.mul(g, 1 - beta1);
        const v = tf.add(vPrev ? tf.mul(vPrev, beta2) : tf.zerosLike(g), tf.mul(tf.mul(g, g), 1 - beta2));
        const denom = tf.add(tf.div(tf.sqrt(v), bc2Sqrt), eps);
        return [tf.sub(p1, tf.mul(tf.div(m, denom), stepSize)), m, v];
      });
      out.params.set(key, np);
      (out.state.expAvg as Map<string, tf.Tensor>).set(key, m);
      (out.state.expAvgSq as Map<string, tf.Tensor>).set(key, v);
    }
  } catch (e) {
    disposeAdamResult(out);
    throw e;
  }
  return out;
}

/** Disposes a state's moments. */
export function disposeAdamState(state: AdamState): void {
  tf.dispose([...state.expAvg.values(), ...state.expAvgSq.values()]);
}

function disposeAdamResult(r: AdamResult): void {
  tf.dispose([...r.params.values()]);
  disposeAdamState(r.state);
}
