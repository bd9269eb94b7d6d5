/**
 * MATLAB's `imresize(img, [outH, outW], 'bicubic')` on host pixels: Keys's cubic with a = −0.5, antialiased when
 * shrinking (the kernel stretched by 1/scale), symmetric borders. It is how the IR-SDE, BasicSR and SR benchmark
 * code make low-resolution images (`imresize_np`), so training pairs and quality tables use it; PyTorch's
 * `F.interpolate` bicubic ({@link resizeBicubic}) is a different filter (a = −0.75, no antialiasing).
 */

/** One output sample's taps: source indices and their weights (normalised to sum 1). */
export interface ResizeTaps {
  readonly index: Int32Array;
  readonly weight: Float64Array;
  /** Taps per output sample. */
  readonly width: number;
}

function cubic(x: number): number {
  const a = Math.abs(x);
  const a2 = a * a;
  const a3 = a2 * a;
  if (a <= 1) return 1.5 * a3 - 2.5 * a2 + 1;
  if (a <= 2) return -0.5 * a3 + 2.5 * a2 - 4 * a + 2;
  return 0;
}

/** MATLAB `contributions(in, out, scale, @cubic, 4, antialiasing=true)`, 0-based indices, borders mirrored. */
export function matlabBicubicTaps(inSize: number, outSize: number): ResizeTaps {
  if (!Number.isInteger(inSize) || inSize < 1 || !Number.isInteger(outSize) || outSize < 1) throw new Error(`MATLAB bicubic resize: sizes must be positive integers, got ${inSize} → ${outSize}`);
  const scale = outSize / inSize;
  const shrink = scale < 1;
  const kernelWidth = shrink ? 4 / scale : 4;
  const width = Math.ceil(kernelWidth) + 2;
  const index = new Int32Array(outSize * width);
  const weight = new Float64Array(outSize * width);
  for (let o = 0; o < outSize; o++) {
    // MATLAB's 1-based output coordinate mapped into input space.
    const u = (o + 1) / scale + 0.5 * (1 - 1 / scale);
    const left = Math.floor(u - kernelWidth / 2);
    let sum = 0;
    for (let k = 0; k < width; k++) {
      const j = left + k; // 1-based source index
      const w = shrink ? scale * cubic(scale * (u - j)) : cubic(u - j);
      weight[o * width + k] = w;
      sum += w;
      // Symmetric padding: the sequence 1…n, n…1 repeated.
      const m = (((j - 1) % (2 * inSize)) + 2 * inSize) % (2 * inSize);
      index[o * width + k] = m < inSize ? m : 2 * inSize - 1 - m;
    }
    for (let k = 0; k < width; k++) weight[o * width + k]! /= sum;
  }
  return { index, weight, width };
}

/**
 * Resizes interleaved float pixels `[H, W, C]` (row-major) to `[outH, outW, C]` with {@link matlabBicubicTaps},
 * rows first then columns (MATLAB's order when shrinking both sides equally). No clamping: values may overshoot.
 */
export function matlabResize(src: Float32Array, height: number, width: number, channels: number, outH: number, outW: number): Float32Array {
  if (src.length !== height * width * channels) throw new Error(`MATLAB bicubic resize: ${src.length} values do not make a ${height}×${width}×${channels} image`);
  const rows = matlabBicubicTaps(height, outH);
  const cols = matlabBicubicTaps(width, outW);
  const mid = new Float32Array(outH * width * channels);
  for (let o = 0; o < outH; o++) {
    for (let k = 0; k < rows.width; k++) {
      const w = rows.weight[o * rows.width + k]!;
      if (w === 0) continue;
      const s = rows.index[o * rows.width + k]! * width * channels;
      const d = o * width * channels;
      for (let i = 0; i < width * channels; i++) mid[d + i]! += w * src[s + i]!;
    }
  }
  const out = new Float32Array(outH * outW * channels);
  for (let y = 0; y < outH; y++) {
    for (let o = 0; o < outW; o++) {
      const d = (y * outW + o) * channels;
      for (let k = 0; k < cols.width; k++) {
        const w = cols.weight[o * cols.width + k]!;
        if (w === 0) continue;
        const s = (y * width + cols.index[o * cols.width + k]!) * channels;
        for (let c = 0; c < channels; c++) out[d + c]! += w * mid[s + c]!;
      }
    }
  }
  return out;
}
