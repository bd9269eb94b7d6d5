import * as tf from '@tensorflow/tfjs-core';
import { PatchBlender } from './patchBlender.js';
import { postprocessOutput, type OutputStrip } from './srPipeline.js';
import { type SRPlan } from './srPlan.js';

/**
 * From pixel-patch outputs (colour-fixed canvas windows in [-1, 1], added in plan order) to output strips in
 * [0, 1]: the blend ({@link PatchBlender}) and the canvas post-processing of the `_tile` scripts. Both the
 * single-process pipeline and a distributed run (patches computed by other workers) go through this one class,
 * so they give the same bytes.
 *
 * Column by column (only the open band of columns is held) when the canvas is just cropped; as the whole canvas
 * when the input was upscaled beyond `upscale` (its output is a bicubic downscale of the whole canvas, at most
 * `inputSize` + 32 pixels on its short side, so that canvas is small).
 */
export class PatchAssembly {
  private readonly blender: PatchBlender;
  private readonly whole: Float32Array | undefined;
  private added = 0;

  constructor(private readonly plan: SRPlan, private readonly batch: number, private readonly channels: number, private readonly write: (strip: OutputStrip) => void) {
    const g = plan.geometry;
    if (!g || plan.patches.length < 2) throw new Error('patch assembly: the plan must be a canvas plan of several pixel patches');
    const hp = plan.inputHeight;
    const wp = plan.inputWidth;
    const c = channels;
    const b = batch;
    if (g.upsampleScale > g.upscale) {
      const all = new Float32Array(b * hp * wp * c);
      this.whole = all;
      this.blender = new PatchBlender(b, hp, wp, c, plan.patches, plan.recipe.patchBlend, ({ x0, width, data }) => {
        for (let r = 0; r < b * hp; r++) all.set(data.subarray(r * width * c, (r + 1) * width * c), (r * wp + x0) * c);
      });
      return;
    }
    const oh = plan.outputHeight;
    const ow = plan.outputWidth;
    this.blender = new PatchBlender(b, hp, wp, c, plan.patches, plan.recipe.patchBlend, ({ x0, width, data }) => {
      const x1 = Math.min(x0 + width, ow);
      if (x1 <= x0) return;
      const sw = x1 - x0;
      const out = new Float32Array(b * oh * sw * c);
      for (let bb = 0; bb < b; bb++) {
        for (let y = 0; y < oh; y++) {
          const src = (bb * hp + y) * width * c;
          const dst = (bb * oh + y) * sw * c;
          // postprocessCanvas without the downscale: clamp((x + 1) / 2, 0, 1) in float32.
          for (let k = 0; k < sw * c; k++) {
            const v = Math.fround(Math.fround(data[src + k]! + 1) / 2);
            out[dst + k] = v > 1 ? 1 : v >= 0 ? v : 0;
          }
        }
      }
      this.write({ x0, width: sw, height: oh, data: out });
    });
  }

  /** Patches added so far. */
  get count(): number {
    return this.added;
  }

  /** Adds the output of the next patch of the plan: NHWC `[batch, h, w, channels]` in [-1, 1]. */
  add(data: Float32Array): void {
    this.blender.add(data);
    this.added++;
  }

  /** After the last patch: the whole-canvas case post-processes and writes its one strip. Returns the output size. */
  async finish(): Promise<{ height: number; width: number }> {
    if (this.added !== this.plan.patches.length) throw new Error(`patch assembly: ${this.added} of ${this.plan.patches.length} patches were added`);
    if (!this.whole) return { height: this.plan.outputHeight, width: this.plan.outputWidth };
    const fixed = tf.tensor4d(this.whole, [this.batch, this.plan.inputHeight, this.plan.inputWidth, this.channels]);
    let image: tf.Tensor4D;
    try {
      image = postprocessOutput(this.plan, fixed);
    } finally {
      fixed.dispose();
    }
    try {
      const [, oh, ow] = image.shape;
      this.write({ x0: 0, width: ow, height: oh, data: await image.data<'float32'>() });
      return { height: oh, width: ow };
    } finally {
      image.dispose();
    }
  }
}
