import * as tf from '@tensorflow/tfjs-core';
import { gelu, quickGelu, silu } from '../nn/activations.js';
import { causalMaskData, multiHeadAttention } from '../nn/attention.js';
import { conv2d } from '../nn/conv2d.js';
import { groupNorm } from '../nn/groupNorm.js';
import { withWeights } from '../nn/hostWeights.js';
import { layerNorm } from '../nn/layerNorm.js';
import { linear } from '../nn/linear.js';
import { linearAttention } from '../nn/linearAttention.js';
import { type Ops } from './ops.js';
import { blockShape } from './blockShape.js';

/** Additive causal masks by size, built once (they are tiny and reused by every block of a text tower). */
const causalMasks = new Map<number, tf.Tensor2D>();
function causalMask(n: number): tf.Tensor2D {
  let m = causalMasks.get(n);
  if (!m) {
    m = tf.keep(tf.tensor2d(causalMaskData(n, n), [n, n]));
    causalMasks.set(n, m);
  }
  return m;
}

/** A [B, C] vector reshaped to broadcast over the positions of a map or token sequence. */
function overPositions(x: tf.Tensor, v: tf.Tensor): tf.Tensor {
  const [b, c] = v.shape;
  return tf.reshape(v, [b!, ...Array.from({ length: x.rank - 2 }, () => 1), c!]);
}

/**
 * The eager TensorFlow.js implementation of {@link Ops}: values are tensors in their logical layout (maps NHWC).
 * Weights kept on the host are uploaded for the duration of each {@link Ops.scope} that names its module.
 */
/**
 * Nearest ×2 upsampling with an exact gradient: the forward is tfjs's resize kernel, but the cpu backend's
 * ResizeNearestNeighborGrad returns wrong values (checked against PyTorch in the `irsde.train-step` fixture), so the
 * backward is written out: each input pixel receives the sum of its 2×2 output block.
 */
const upsampleNearest2xWithGrad = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  const [b, h, w, c] = x.shape as [number, number, number, number];
  save([]);
  return {
    value: tf.image.resizeNearestNeighbor(x as tf.Tensor4D, [h * 2, w * 2], false, false),
    gradFunc: (dy: tf.Tensor) => tf.sum(tf.reshape(dy, [b, h, 2, w, 2, c]), [2, 4]),
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor4D) => tf.Tensor4D;

export const tfjsOps: Ops<tf.Tensor> = {
  engine: 'tfjs',
  shape: (x) => x.shape,
  weight: (t) => t,
  conv2d: (c, x) => conv2d(c, x as tf.Tensor4D),
  groupNorm: (n, x) => groupNorm(n, x as tf.Tensor4D),
  upsampleNearest2x: (x) => upsampleNearest2xWithGrad(x as tf.Tensor4D),
  resizeNearest: (x, height, width) => tf.image.resizeNearestNeighbor(x as tf.Tensor4D, [height, width], false, false),
  avgPool2x: (x) => tf.avgPool(x as tf.Tensor4D, 2, 2, 'valid'),
  reflectPad: (x, [[top, bottom], [left, right]]) => {
    const [, h, w] = x.shape as [number, number, number, number];
    if (Math.max(top, bottom) >= h || Math.max(left, right) >= w) throw new Error(`reflectPad: [[${top}, ${bottom}], [${left}, ${right}]] on a ${h}×${w} map (each amount must be smaller than its side)`);
    return tf.mirrorPad(x, [[0, 0], [top, bottom], [left, right], [0, 0]], 'reflect');
  },
  spaceToDepth: (x, r) => {
    const [b, h, w, c] = blockShape('spaceToDepth', x.shape, r, false);
    // [B, H/r, r, W/r, r, C] → [B, H/r, W/r, r, r, C]
    return tf.reshape(tf.transpose(tf.reshape(x, [b, h / r, r, w / r, r, c]), [0, 1, 3, 2, 4, 5]), [b, h / r, w / r, r * r * c]);
  },
  depthToSpace: (x, r) => {
    const [b, h, w, c] = blockShape('depthToSpace', x.shape, r, true);
    // [B, H, W, r, r, C/r²] → [B, H, r, W, r, C/r²]
    return tf.reshape(tf.transpose(tf.reshape(x, [b, h, w, r, r, c / (r * r)]), [0, 1, 3, 2, 4, 5]), [b, h * r, w * r, c / (r * r)]);
  },
  crop: (x, top, left, height, width) => tf.slice(x, [0, top, left, 0], [-1, height, width, -1]),
  toTokens: (x) => {
    const [b, h, w, c] = x.shape as [number, number, number, number];
    return tf.reshape(x, [b, h * w, c]);
  },
  fromTokens: (t, height, width) => {
    const [b, n, c] = t.shape as [number, number, number];
    if (n !== height * width) throw new Error(`fromTokens: ${n} tokens do not make a ${height}×${width} map`);
    return tf.reshape(t, [b, height, width, c]);
  },
  linear: (l, x) => linear(l, x),
  layerNorm: (n, x) => layerNorm(n, x),
  attention: (q, k, v, o) =>
    multiHeadAttention(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, o.heads, {
      scale: o.scale,
      ...(o.scoreBudgetBytes !== undefined ? { scoreBudgetBytes: o.scoreBudgetBytes } : {}),
      ...(o.causal ? { mask: causalMask(q.shape[1]!) } : {}),
    }),
  linearAttention: (q, k, v, o) => linearAttention(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, o.heads, o.scale),
  embedding: (table, ids) => tf.gather(table, ids),
  add: (a, b) => tf.add(a, b),
  sub: (a, b) => tf.sub(a, b),
  mul: (a, b) => tf.mul(a, b),
  scale: (x, s) => tf.mul(x, s),
  addScalar: (x, s) => tf.add(x, s),
  addVector: (x, v) => tf.tidy(() => tf.add(x, overPositions(x, v))),
  mulVector: (x, v) => tf.tidy(() => tf.mul(x, overPositions(x, v))),
  silu: (x) => silu(x),
  gelu: (x) => gelu(x),
  quickGelu: (x) => quickGelu(x),
  relu: (x) => tf.relu(x),
  leakyRelu: (x, alpha) => tf.leakyRelu(x, alpha),
  concat: (xs) => tf.concat(xs as tf.Tensor[], -1),
  split: (x, parts, groups = 1) => {
    const c = x.shape[x.rank - 1]!;
    if (c % (parts * groups) !== 0) throw new Error(`split: ${c} channels do not split into ${groups} groups of ${parts} parts`);
    if (groups === 1) return tf.split(x, parts, -1);
    return tf.tidy(() => {
      const lead = x.shape.slice(0, -1);
      const d = c / (parts * groups);
      return tf.split(tf.reshape(x, [...lead, groups, parts * d]), parts, -1).map((p) => tf.reshape(p, [...lead, groups * d]));
    });
  },
  scope: (fn, module) => {
    const run = (): ReturnType<typeof fn> => {
      // tf.tidy keeps tensors of arrays and objects but not of Maps: carry a Map's entries out as a list.
      let keys: number[] | undefined;
      const kept = tf.tidy(() => {
        const r = fn();
        if (!(r instanceof Map)) return r as tf.TensorContainer;
        keys = [...r.keys()];
        return [...r.values()] as tf.Tensor[];
      });
      return (keys ? new Map(keys.map((k, i) => [k, (kept as tf.Tensor[])[i]!])) : kept) as ReturnType<typeof fn>;
    };
    return module ? withWeights(module, run) : run();
  },
  release: (x) => x.dispose(),
};

