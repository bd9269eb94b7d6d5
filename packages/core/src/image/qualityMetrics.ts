/**
 * Full-reference image quality as the SR literature reports it (BasicSR `calculate_psnr` / `calculate_ssim` with
 * `test_y_channel`): on the luma of ITU-R BT.601 (`16 + 65.481R + 128.553G + 24.966B` for RGB in [0, 1]), with
 * `shave` pixels cropped from every border, on the 0…255 scale. Pass the 8-bit images that are written (or their
 * values / 255): BasicSR measures saved images.
 */

/** Luma of interleaved RGB in [0, 1], on the 16…235 scale. */
export function lumaBt601(rgb: Float32Array | Uint8Array, scaleTo1 = rgb instanceof Uint8Array ? 1 / 255 : 1): Float64Array {
  const n = rgb.length / 3;
  const y = new Float64Array(n);
  for (let p = 0; p < n; p++) y[p] = 16 + (65.481 * rgb[p * 3]! + 128.553 * rgb[p * 3 + 1]! + 24.966 * rgb[p * 3 + 2]!) * scaleTo1;
  return y;
}

function shaved(y: Float64Array, height: number, width: number, shave: number): { data: Float64Array; h: number; w: number } {
  const h = height - 2 * shave;
  const w = width - 2 * shave;
  if (h < 1 || w < 1) throw new Error(`quality metric: shaving ${shave} px leaves nothing of a ${height}×${width} image`);
  const data = new Float64Array(h * w);
  for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) data[r * w + c] = y[(r + shave) * width + c + shave]!;
  return { data, h, w };
}

function checkPair(a: ArrayLike<number>, b: ArrayLike<number>, height: number, width: number): void {
  if (a.length !== b.length || a.length !== height * width * 3) throw new Error(`quality metric: images of ${a.length} and ${b.length} values for ${height}×${width} RGB`);
}

/** PSNR in dB of the luma of two RGB images (interleaved, [0, 1] floats or 8-bit); Infinity when identical. */
export function psnrY(a: Float32Array | Uint8Array, b: Float32Array | Uint8Array, height: number, width: number, shave = 0): number {
  checkPair(a, b, height, width);
  const ya = shaved(lumaBt601(a), height, width, shave).data;
  const yb = shaved(lumaBt601(b), height, width, shave).data;
  let se = 0;
  for (let i = 0; i < ya.length; i++) {
    const d = ya[i]! - yb[i]!;
    se += d * d;
  }
  const mse = se / ya.length;
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}

/** SSIM of the luma (Wang et al. 2004: 11×11 Gaussian window σ 1.5, valid region, K1 0.01, K2 0.03, L 255). */
export function ssimY(a: Float32Array | Uint8Array, b: Float32Array | Uint8Array, height: number, width: number, shave = 0): number {
  checkPair(a, b, height, width);
  const A = shaved(lumaBt601(a), height, width, shave);
  const B = shaved(lumaBt601(b), height, width, shave);
  const { h, w } = A;
  if (h < 11 || w < 11) throw new Error(`SSIM needs at least 11×11 pixels after shaving, got ${h}×${w}`);
  const g = new Float64Array(11);
  let gs = 0;
  for (let i = 0; i < 11; i++) gs += g[i] = Math.exp(-((i - 5) ** 2) / (2 * 1.5 * 1.5));
  for (let i = 0; i < 11; i++) g[i]! /= gs;
  const filt = (x: Float64Array): Float64Array => {
    const rows = new Float64Array((h - 10) * w);
    for (let r = 0; r < h - 10; r++) for (let c = 0; c < w; c++) { let s = 0; for (let k = 0; k < 11; k++) s += g[k]! * x[(r + k) * w + c]!; rows[r * w + c] = s; }
    const out = new Float64Array((h - 10) * (w - 10));
    for (let r = 0; r < h - 10; r++) for (let c = 0; c < w - 10; c++) { let s = 0; for (let k = 0; k < 11; k++) s += g[k]! * rows[r * w + c + k]!; out[r * (w - 10) + c] = s; }
    return out;
  };
  const prod = (x: Float64Array, y: Float64Array): Float64Array => x.map((v, i) => v * y[i]!);
  const mu1 = filt(A.data), mu2 = filt(B.data);
  const s11 = filt(prod(A.data, A.data)), s22 = filt(prod(B.data, B.data)), s12 = filt(prod(A.data, B.data));
  const C1 = (0.01 * 255) ** 2, C2 = (0.03 * 255) ** 2;
  let sum = 0;
  for (let i = 0; i < mu1.length; i++) {
    const m1 = mu1[i]!, m2 = mu2[i]!;
    const v1 = s11[i]! - m1 * m1, v2 = s22[i]! - m2 * m2, c12 = s12[i]! - m1 * m2;
    sum += ((2 * m1 * m2 + C1) * (2 * c12 + C2)) / ((m1 * m1 + m2 * m2 + C1) * (v1 + v2 + C2));
  }
  return sum / mu1.length;
}
