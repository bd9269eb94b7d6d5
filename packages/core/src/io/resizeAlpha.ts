import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';

/**
 * Resizes an alpha matte `[1, H, W, 1]` in [0, 1] to `width × height` with sharp's bicubic kernel (the
 * networks never see alpha; the pipeline scales it on its own and re-attaches it). Works in 16-bit samples.
 */
export async function resizeAlpha(alpha: tf.Tensor4D, width: number, height: number): Promise<tf.Tensor4D> {
  const [b, h, w, c] = alpha.shape;
  if (b !== 1 || c !== 1) throw new Error(`alpha must be [1, H, W, 1], got [${alpha.shape.join(', ')}]`);
  const src = Uint16Array.from(await alpha.data<'float32'>(), (v) => Math.round(Math.min(1, Math.max(0, v)) * 65535));
  const { data } = await sharp(src, { raw: { width: w, height: h, channels: 1 } })
    .resize(width, height, { kernel: 'cubic', fit: 'fill' })
    .toColourspace('grey16')
    .raw({ depth: 'ushort' })
    .toBuffer({ resolveWithObject: true });
  const u16 = new Uint16Array(data.buffer, data.byteOffset, data.length / 2);
  const n = width * height;
  if (u16.length < n) throw new Error(`resizeAlpha: sharp returned ${u16.length} samples for ${width}×${height}`);
  const out = new Float32Array(n);
  // sharp may hand back more than one band for a grey source; take the first.
  const stride = u16.length / n;
  for (let i = 0; i < n; i++) out[i] = u16[i * stride]! / 65535;
  return tf.tensor4d(out, [1, height, width, 1]);
}
