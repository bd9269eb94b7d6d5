import * as tf from '@tensorflow/tfjs-core';
import { DEFAULT_SCORE_BUDGET_BYTES, type Linear, type Ops, type WeightView, loadLinear, tfjsOps } from '@stablesr/core';

/**
 * `FeedForward(dim, glu=True)` of ldm/modules/attention.py: `net.0` = GEGLU (`proj` Linear(dim → 2·inner),
 * `[a, g] = chunk(2)`, `a · gelu(g)` with the exact erf GELU), `net.2` = Linear(inner → dim); inner = 4·dim.
 */
export interface FeedForward {
  readonly dim: number;
  readonly inner: number;
  readonly net: { readonly 0: { readonly proj: Linear }; readonly 2: Linear };
}

export function loadFeedForward(view: WeightView, dim: number, mult = 4): FeedForward {
  const inner = Math.trunc(dim * mult);
  return { dim, inner, net: { 0: { proj: loadLinear(view, 'net.0.proj', dim, 2 * inner) }, 2: loadLinear(view, 'net.2', inner, dim) } };
}

/**
 * Tokens x [B, N, dim] → [B, N, dim] on any engine, all tokens at once. Each hidden activation is released as soon
 * as it is consumed, so the peak is the [B·N, 2·inner] projection plus its two halves and GELU's temporaries
 * (the op interface has no token slicing, so tokens are not processed in row chunks as attention's queries are).
 */
export function feedForwardForwardOps<T>(ops: Ops<T>, f: FeedForward, x: T): T {
  return ops.scope(() => {
    const proj = ops.linear(f.net[0].proj, x);
    const [a, g] = ops.split(proj, 2) as [T, T];
    ops.release(proj);
    const ge = ops.gelu(g);
    ops.release(g);
    const p = ops.mul(a, ge);
    ops.release(a);
    ops.release(ge);
    const out = ops.linear(f.net[2], p);
    ops.release(p);
    return out;
  });
}
