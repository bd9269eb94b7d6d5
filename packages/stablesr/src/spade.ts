import type * as tf from '@tensorflow/tfjs-core';
import { type Conv2d, type GroupNorm, type Ops, type WeightView, loadConv2d, loadGroupNorm, tfjsOps } from '@stablesr/core';
import { GROUP_NORM32_EPS, type ResBlockCond, type ResBlockModulation, type UNetExtension } from '@stablesr/unet';
import { type StructCond } from './srModels.js';

/** The hidden width of SPADE's shared MLP ("Yes, hardcoded" in the reference). */
export const SPADE_HIDDEN = 128;

/**
 * `SPADE(norm_nc, label_nc)` of StableSR `ldm/modules/spade.py` as used by `ResBlockDual`:
 * `out = param_free_norm(h)·(1 + γ) + β` with `a = ReLU(mlp_shared.0(seg))` (3×3, label_nc → 128),
 * `γ = mlp_gamma(a)`, `β = mlp_beta(a)` (3×3, 128 → norm_nc). `param_free_norm` is GroupNorm32 (32 groups,
 * eps 1e-5) **with** affine parameters despite its name.
 */
export interface Spade {
  readonly normNc: number;
  readonly labelNc: number;
  readonly param_free_norm: GroupNorm;
  readonly mlp_shared: { readonly 0: Conv2d };
  readonly mlp_gamma: Conv2d;
  readonly mlp_beta: Conv2d;
}

/** Loads SPADE from a view scoped to it (`….spade.`). */
export function loadSpade(view: WeightView, normNc: number, labelNc: number): Spade {
  return {
    normNc,
    labelNc,
    param_free_norm: loadGroupNorm(view, 'param_free_norm', normNc, 32, GROUP_NORM32_EPS),
    mlp_shared: { 0: loadConv2d(view, 'mlp_shared.0', labelNc, SPADE_HIDDEN, 3) },
    mlp_gamma: loadConv2d(view, 'mlp_gamma', SPADE_HIDDEN, normNc, 3),
    mlp_beta: loadConv2d(view, 'mlp_beta', SPADE_HIDDEN, normNc, 3),
  };
}

/**
 * `SPADE.forward(h, struct_cond)` on a map `h` [B, H, W, C], on any engine: the structure feature is looked up by
 * the feature **width** (`str(h.size(-1))` in the reference — non-square latents rely on it). A feature of another
 * spatial size is nearest-resized to `h` first (the `F.interpolate(segmap, size=x.size()[2:], mode='nearest')` of
 * the original SPADE; a no-op for the StableSR encoder, whose features always match).
 */
export function spadeForwardOps<T>(ops: Ops<T>, s: Spade, h: T, cond: ResBlockCond<T>): T {
  const [b, hh, w, c] = ops.shape(h) as [number, number, number, number];
  const seg = cond.get(w);
  if (seg === undefined) {
    throw new Error(`SPADE: struct_cond has no feature of width ${w} (widths present: ${[...cond.keys()].join(', ') || 'none'})`);
  }
  const [sb, sh, sw, sc] = ops.shape(seg);
  if (sc !== s.labelNc) throw new Error(`SPADE: struct_cond feature of width ${w} has ${sc} channels, the model expects semb_channels ${s.labelNc}`);
  if (sb !== b) throw new Error(`SPADE: struct_cond batch ${sb} ≠ feature batch ${b}`);
  if (c !== s.normNc) throw new Error(`SPADE: feature has ${c} channels, the layer expects ${s.normNc}`);
  return ops.scope(() => {
    const segmap = sh === hh && sw === w ? seg : ops.resizeNearest(seg, hh, w);
    const actv = ops.relu(ops.conv2d(s.mlp_shared[0], segmap));
    const gamma = ops.conv2d(s.mlp_gamma, actv);
    const beta = ops.conv2d(s.mlp_beta, actv);
    return ops.add(ops.mul(ops.groupNorm(s.param_free_norm, h), ops.addScalar(gamma, 1)), beta);
  });
}

/** {@link spadeForwardOps} on TensorFlow.js (NHWC tensors). */
export function spadeForward(s: Spade, h: tf.Tensor4D, cond: StructCond): tf.Tensor4D {
  return spadeForwardOps(tfjsOps, s, h, cond) as tf.Tensor4D;
}

/** The SPADE modulation of one `ResBlockDual` (keys `<resblock>.spade.*`). */
export interface SpadeModulation extends ResBlockModulation {
  readonly spade: Spade;
}

/**
 * The U-Net extension that turns every ResBlock into StableSR's `ResBlockDual`: SPADE on the residual
 * branch after its last conv, conditioned on the struct_cond features (`semb_channels` wide).
 */
export function spadeExtension(sembChannels: number): UNetExtension {
  return {
    name: 'SPADE',
    loadModulation(view, block): SpadeModulation {
      const spade = loadSpade(view.scope('spade.'), block.outChannels, sembChannels);
      return { spade, apply: (ops, h, cond) => spadeForwardOps(ops, spade, h, cond) };
    },
  };
}
