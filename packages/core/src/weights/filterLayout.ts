// Conv filter layout conversions on plain arrays (no tfjs), for the ONNX Runtime worker thread. The PyTorch → tfjs
// direction is in layout.ts.

/** Conv filter `[kh, kw, in, out]` (HWIO, as the tfjs modules hold it) → `[out, in, kh, kw]` (OIHW, as ONNX wants it). */
export function hwioToOihw(src: Float32Array, [kh, kw, ci, co]: readonly [number, number, number, number]): Float32Array {
  const dst = new Float32Array(src.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < ci; i++) {
        const s = ((y * kw + x) * ci + i) * co;
        for (let o = 0; o < co; o++) dst[((o * ci + i) * kh + y) * kw + x] = src[s + o]!;
      }
  return dst;
}
