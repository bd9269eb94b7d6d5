import * as tf from '@tensorflow/tfjs-core';
import { type Linear, type WeightView, gelu, linear, loadLinear } from '@stablesr/core';

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

export function feedForwardForward(f: FeedForward, x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const [a, g] = tf.split(linear(f.net[0].proj, x), 2, -1);
    return linear(f.net[2], tf.mul(a!, gelu(g!)));
  });
}
