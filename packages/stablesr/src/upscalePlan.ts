import { type SRPlan } from './srPlan.js';
import { type ResolvedUpscaleOptions } from './upscaleOptions.js';

/**
 * What one {@link StableSR.upscale} call of an image of a given size will do, from numbers alone (no tensor, no
 * pixels): the resolved options, the pipeline's plan and the output size. With more than one pixel patch the call
 * can be split: {@link StableSR.upscalePatch} per patch (anywhere), then {@link StableSR.blendPatches}.
 */
export interface UpscalePlan {
  options: ResolvedUpscaleOptions;
  plan: SRPlan;
  inputWidth: number;
  inputHeight: number;
  /** The output image: `trunc(W·scale) × trunc(H·scale)`, at most the pipeline's output. */
  width: number;
  height: number;
  /** Pixel patches of the plan (1: one window, nothing to split). */
  patches: number;
}

/** The output of one pixel patch ({@link StableSR.upscalePatch}): NHWC `[1, height, width, 3]` in [-1, 1], colour-fixed. */
export interface PatchOutput {
  index: number;
  height: number;
  width: number;
  data: Float32Array;
}
