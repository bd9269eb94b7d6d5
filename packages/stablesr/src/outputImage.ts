import * as tf from '@tensorflow/tfjs-core';
import { type QuantizeMode, type RawImage, quantize, resizeAlpha } from '@stablesr/core';
import { type OutputStrip } from './srPipeline.js';

/** How output samples are made from the pipeline's [0, 1] floats. */
export interface OutputFormat {
  quantize: QuantizeMode;
  bitDepth: 8 | 16;
}

/**
 * The output image, filled strip by strip straight into its integer samples (RGB, or RGBA leaving room for the
 * alpha), so the float output is never whole on the host. It keeps the top-left `width × height` of what the
 * pipeline delivers: the API returns exactly the requested size, the top-left part of the reference's output
 * (the reference crops the downscaled canvas to the pre-padding size of the *upscaled* canvas, which keeps some
 * padding when the input was upscaled beyond `scale`).
 */
export class OutputImage {
  readonly data: Uint8Array | Uint16Array;
  private readonly channels: 3 | 4;

  constructor(readonly width: number, readonly height: number, alpha: boolean, private readonly format: OutputFormat) {
    this.channels = alpha ? 4 : 3;
    const n = width * height * this.channels;
    this.data = format.bitDepth === 16 ? new Uint16Array(n) : new Uint8Array(n);
  }

  /** Quantises the part of `strip` (RGB in [0, 1]) that falls inside the image. */
  write(strip: OutputStrip): void {
    const sw = Math.min(strip.width, this.width - strip.x0);
    if (sw <= 0) return;
    const c = this.channels;
    for (let y = 0; y < Math.min(strip.height, this.height); y++) {
      const row = quantize(strip.data.subarray(y * strip.width * 3, (y * strip.width + sw) * 3), { mode: this.format.quantize, bitDepth: this.format.bitDepth, signed: false });
      const base = (y * this.width + strip.x0) * c;
      if (c === 3) this.data.set(row, base);
      else for (let x = 0; x < sw; x++) this.data.set(row.subarray(x * 3, x * 3 + 3), base + x * 4);
    }
  }

  /** Resizes the input's alpha (`[1, h, w, 1]` in [0, 1]) to the output (bicubic) and stores it in the fourth channel. */
  async attachAlpha(alpha: tf.Tensor4D): Promise<void> {
    if (this.channels !== 4) throw new Error('internal: OutputImage made without an alpha channel');
    const a = await resizeAlpha(alpha, this.width, this.height);
    const av = quantize(await a.data<'float32'>(), { mode: this.format.quantize, bitDepth: this.format.bitDepth, signed: false });
    a.dispose();
    for (let k = 0; k < av.length; k++) this.data[k * 4 + 3] = av[k]!;
  }

  /** The samples as a {@link RawImage}. */
  image(): RawImage {
    return { data: this.data, width: this.width, height: this.height, channels: this.channels };
  }
}
