import * as tf from '@tensorflow/tfjs-core';
import { type WeightView } from '../weights/weightView.js';

/** GroupNorm over NHWC tensors with affine parameters (`<name>.weight`, `<name>.bias`). */
export interface GroupNorm {
  readonly groups: number;
  readonly channels: number;
  readonly eps: number;
  readonly gamma: tf.Tensor1D;
  readonly beta: tf.Tensor1D;
}

export function loadGroupNorm(view: WeightView, name: string, channels: number, groups: number, eps: number): GroupNorm {
  if (channels % groups !== 0) throw new Error(`GroupNorm ${view.prefix}${name}: ${channels} channels do not split into ${groups} groups`);
  return {
    groups,
    channels,
    eps,
    gamma: view.get(`${name}.weight`, [channels]) as tf.Tensor1D,
    beta: view.get(`${name}.bias`, [channels]) as tf.Tensor1D,
  };
}

/** Normalises with given mean/var per [B, G] and applies the affine parameters. */
export function applyGroupNorm(n: GroupNorm, x: tf.Tensor4D, mean: tf.Tensor2D, variance: tf.Tensor2D): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, h, w, c] = x.shape;
    const cg = c / n.groups;
    // Fold normalisation and affine into one scale/shift per (batch, channel): y = x·s + t.
    const inv = tf.rsqrt(tf.add(variance, n.eps)); // [B, G]
    const invC = tf.reshape(tf.tile(tf.reshape(inv, [b, n.groups, 1]), [1, 1, cg]), [b, 1, 1, c]);
    const meanC = tf.reshape(tf.tile(tf.reshape(mean, [b, n.groups, 1]), [1, 1, cg]), [b, 1, 1, c]);
    const scale = tf.mul(invC, n.gamma);
    const shift = tf.sub(n.beta, tf.mul(meanC, scale));
    return tf.add(tf.mul(x, scale), shift) as tf.Tensor4D;
  });
}

/** Mean and biased variance per [B, G] of an NHWC tensor (two-pass, as PyTorch computes it). */
export function groupMoments(x: tf.Tensor4D, groups: number): { mean: tf.Tensor2D; variance: tf.Tensor2D } {
  return tf.tidy(() => {
    const [b, h, w, c] = x.shape;
    const g = tf.reshape(x, [b, h * w, groups, c / groups]);
    const mean = tf.mean(g, [1, 3], true);
    const variance = tf.mean(tf.square(tf.sub(g, mean)), [1, 3]) as tf.Tensor2D;
    return { mean: tf.reshape(mean, [b, groups]) as tf.Tensor2D, variance };
  });
}

/** GroupNorm of an NHWC tensor using its own statistics. */
export function groupNorm(n: GroupNorm, x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const { mean, variance } = groupMoments(x, n.groups);
    return applyGroupNorm(n, x, mean, variance);
  });
}

export function disposeGroupNorm(n: GroupNorm): void {
  n.gamma.dispose();
  n.beta.dispose();
}
