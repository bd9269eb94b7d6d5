import * as tf from '@tensorflow/tfjs-core';
import { centerCrop, reflectPadBottomRight, resizeBicubic, resizeBilinear, resizeShorterSide } from '@stablesr/core';

/**
 * Input pre-processing of the StableSR inference scripts, on NHWC images in [-1, 1].
 * Two rules exist: the plain scripts resize + center-crop to a square (`Resize(input_size)`,
 * `CenterCrop(input_size)`); the canvas (`_tile`) scripts upscale by bicubic and pad to a multiple of 32.
 */

/** Largest side (pixels) the pipeline accepts after upscaling, to fail early instead of exhausting memory. */
export const MAX_OUTPUT_SIDE = 32768;

/**
 * Plain scripts (README 7.12 step 2): torchvision `Resize(inputSize)` (bilinear, no antialias),
 * `CenterCrop(inputSize)`, then clamp to [-1, 1] unless `clamp` is false (the DDIM script does not clamp).
 */
export function preprocessCenterCrop(lr: tf.Tensor4D, inputSize: number, opts: { clamp?: boolean } = {}): tf.Tensor4D {
  if (!Number.isInteger(inputSize) || inputSize < 1) throw new Error(`input_size must be a positive integer, got ${inputSize}`);
  const [, h, w] = lr.shape;
  const [rh, rw] = resizeShorterSide(h, w, inputSize);
  return tf.tidy(() => {
    const cropped = centerCrop(resizeBilinear(lr, rh, rw), inputSize, inputSize);
    return opts.clamp === false ? cropped : tf.clipByValue(cropped, -1, 1);
  });
}

/** What the canvas pre-processing did, needed to undo it on the output. */
export interface CanvasGeometry {
  /** `max(input_size / min(h, w), upscale)`. */
  upsampleScale: number;
  upscale: number;
  /** Size after the bicubic upscale, before padding (`ori_h`, `ori_w`). */
  oriH: number;
  oriW: number;
  /** Reflect padding added at the bottom / right (0 when both sides were multiples of 32). */
  padH: number;
  padW: number;
  flagPad: boolean;
}

/** Number math of {@link preprocessCanvas}: sizes, scale and padding for an `h × w` input. */
export function canvasGeometry(h: number, w: number, inputSize: number, upscale: number): CanvasGeometry {
  if (!(upscale > 0) || !Number.isFinite(upscale)) throw new Error(`upscale must be a positive number, got ${upscale}`);
  if (!Number.isInteger(inputSize) || inputSize < 1) throw new Error(`input_size must be a positive integer, got ${inputSize}`);
  const upsampleScale = Math.max(inputSize / Math.min(h, w), upscale);
  const oriH = Math.trunc(h * upsampleScale);
  const oriW = Math.trunc(w * upsampleScale);
  if (Math.max(oriH, oriW) > MAX_OUTPUT_SIDE) {
    throw new Error(`upscale ${upscale}: a ${w}×${h} input would become ${oriW}×${oriH} pixels, over the ${MAX_OUTPUT_SIDE}-pixel limit per side`);
  }
  const flagPad = !(oriH % 32 === 0 && oriW % 32 === 0);
  // The reference pads both sides as soon as one is not a multiple of 32 (a multiple gets 32 more).
  const padH = flagPad ? (Math.floor(oriH / 32) + 1) * 32 - oriH : 0;
  const padW = flagPad ? (Math.floor(oriW / 32) + 1) * 32 - oriW : 0;
  return { upsampleScale, upscale, oriH, oriW, padH, padW, flagPad };
}

/**
 * Canvas scripts (README 7.13 step 2): bicubic upscale by `max(inputSize / min(h, w), upscale)`,
 * clamp to [-1, 1], reflect-pad bottom/right to a multiple of 32 (reference rule).
 */
export function preprocessCanvas(lr: tf.Tensor4D, inputSize: number, upscale: number): { image: tf.Tensor4D; geometry: CanvasGeometry } {
  const [, h, w] = lr.shape;
  const g = canvasGeometry(h, w, inputSize, upscale);
  const image = tf.tidy(() => {
    const up = tf.clipByValue(resizeBicubic(lr, g.oriH, g.oriW), -1, 1) as tf.Tensor4D;
    return g.flagPad ? reflectPadBottomRight(up, g.padH, g.padW) : up;
  });
  return { image, geometry: g };
}

/** Output size of {@link postprocessCanvas} for a padded canvas of `hp × wp`. */
export function postprocessSize(hp: number, wp: number, g: CanvasGeometry): [number, number] {
  let h = hp;
  let w = wp;
  if (g.upsampleScale > g.upscale) {
    h = Math.trunc((hp * g.upscale) / g.upsampleScale);
    w = Math.trunc((wp * g.upscale) / g.upsampleScale);
  }
  // Python slicing `[:ori_h, :ori_w]` saturates at the size (the crop may not remove all padding).
  return g.flagPad ? [Math.min(h, g.oriH), Math.min(w, g.oriW)] : [h, w];
}

/**
 * Canvas scripts' output (README 7.13 step 7): `clamp((x + 1)/2, 0, 1)`, bicubic downscale of the padded
 * canvas when the input had to be upscaled beyond `upscale` (then clamp), crop to the pre-padding size.
 * Returns NHWC in [0, 1].
 */
export function postprocessCanvas(x: tf.Tensor4D, g: CanvasGeometry): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, hp, wp, c] = x.shape;
    let y = tf.clipByValue(tf.div(tf.add(x, 1), 2), 0, 1) as tf.Tensor4D;
    if (g.upsampleScale > g.upscale) {
      const h = Math.trunc((hp * g.upscale) / g.upsampleScale);
      const w = Math.trunc((wp * g.upscale) / g.upsampleScale);
      y = tf.clipByValue(resizeBicubic(y, h, w), 0, 1) as tf.Tensor4D;
    }
    const [oh, ow] = postprocessSize(hp, wp, g);
    return tf.slice(y, [0, 0, 0, 0], [b, oh, ow, c]);
  });
}

/** `clamp((x + 1)/2, 0, 1)`: from the model's [-1, 1] to [0, 1]. */
export function toUnitRange(x: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.clipByValue(tf.div(tf.add(x, 1), 2), 0, 1) as tf.Tensor4D);
}
