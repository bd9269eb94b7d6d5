import type * as tf from '@tensorflow/tfjs-core';
import { type Ops, WeightFileError, type WeightView } from '@stablesr/core';
import { type UNet, type UNetConfig, type UNetForwardOptions, loadUNet, unetConfigFromWeights, unetForward, unetForwardOps } from '@stablesr/unet';
import { spadeExtension, SPADE_HIDDEN } from './spade.js';
import { type StructCond } from './srModels.js';

/** StableSR's `UNetModelDualcondV2`: the SD-2.x U-Net whose every ResBlock ends with SPADE. */
export type StableSRUNet = UNet;

/** `UNetModelDualcondV2` constructor parameters: the `UNetModel` ones plus `semb_channels`. */
export type UNetModelDualcondV2Config = UNetConfig & { semb_channels?: number | null };

/** A plain SD U-Net checkpoint (no SPADE tensors) is not a StableSR one: a clear error rather than missing keys. */
function assertSpade(view: WeightView): void {
  if (!view.keys().some((k) => k.includes('.spade.'))) {
    throw new WeightFileError(
      view.origin,
      `no SPADE tensors under "${view.prefix}" (e.g. ${view.prefix}input_blocks.1.0.spade.mlp_shared.0.weight): this is a plain Stable Diffusion U-Net, not a StableSR (UNetModelDualcondV2) checkpoint`,
    );
  }
}

/** `semb_channels` read off the SPADE layers: `….spade.mlp_shared.0.weight` is `[128, semb_channels, 3, 3]`. */
export function sembChannelsFromWeights(view: WeightView): number {
  assertSpade(view);
  const probe = view.keys().find((k) => k.endsWith('.spade.mlp_shared.0.weight'));
  const shape = probe ? view.shapeOf(probe) : undefined;
  if (!shape || shape[0] !== SPADE_HIDDEN) throw new WeightFileError(view.origin, 'semb_channels is not in the config and cannot be read from the SPADE weights');
  return shape[1]!;
}

/**
 * The configuration of the `UNetModelDualcondV2` in `view` (at `model.diffusion_model.`): {@link unetConfigFromWeights}
 * plus `semb_channels` ({@link sembChannelsFromWeights}); `given` fields win, `base` fills what the weights cannot tell.
 */
export function unetModelDualcondV2ConfigFromWeights(view: WeightView, given: Partial<UNetModelDualcondV2Config> | undefined, base: UNetModelDualcondV2Config): UNetModelDualcondV2Config {
  assertSpade(view);
  return unetConfigFromWeights(view, given, { ...base, semb_channels: sembChannelsFromWeights(view) });
}

/**
 * Loads `UNetModelDualcondV2` from a view scoped to `model.diffusion_model.`: {@link loadUNet} with the
 * SPADE extension (no copy of the U-Net). `semb_channels` comes from the config, or from the checkpoint
 * when the config omits it. A plain SD U-Net checkpoint (no SPADE tensors) is rejected with a clear error.
 */
export function loadStableSRUNet(config: UNetModelDualcondV2Config, view: WeightView): StableSRUNet {
  assertSpade(view);
  return loadUNet(config, view, spadeExtension(config.semb_channels ?? sembChannelsFromWeights(view)));
}

/**
 * `UNetModelDualcondV2.forward(x, timesteps, context, struct_cond)` on any engine ({@link unetForwardOps}): `x`
 * [B, H, W, in_channels], `tEmb` the host-computed sinusoidal embedding [B, model_channels], `structCond` feature
 * width → [B, h, w, semb_channels] (the time-aware encoder's output). Returns the raw model output (ε or v).
 */
export function stableSRUNetForwardOps<T>(
  ops: Ops<T>,
  unet: StableSRUNet,
  x: T,
  tEmb: T,
  context: T,
  structCond: ReadonlyMap<number, T>,
  opts?: UNetForwardOptions,
): T {
  return unetForwardOps(ops, unet, x, tEmb, context, structCond, opts);
}

/**
 * `UNetModelDualcondV2.forward(x, timesteps, context, struct_cond)` on NHWC `x` (TensorFlow.js); returns the raw
 * model output (ε or v), NHWC. `structCond` maps feature width → [B, h, w, semb_channels].
 */
export function stableSRUNetForward(
  unet: StableSRUNet,
  x: tf.Tensor4D,
  timesteps: ArrayLike<number>,
  context: tf.Tensor3D,
  structCond: StructCond,
  opts?: UNetForwardOptions,
): tf.Tensor4D {
  return unetForward(unet, x, timesteps, context, structCond, opts);
}
