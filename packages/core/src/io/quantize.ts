/**
 * How float samples become integers.
 * - `truncate`: the reference scripts' `(255. * clamp((x+1)/2, 0, 1)).astype(np.uint8)`: float32 arithmetic, then
 *   truncation toward zero. Bit-exact with StableSR's saved PNGs.
 * - `round`: nearest integer (half up); on average closer to the float image.
 */
export type QuantizeMode = 'truncate' | 'round';

export const QUANTIZE_MODES: readonly QuantizeMode[] = ['truncate', 'round'];

const f = Math.fround;

/**
 * Quantises samples in [-1, 1] (`signed`, image convention) or [0, 1] (alpha) to `bitDepth` bits. Every step
 * is rounded to float32 like the reference's numpy float32 arrays, so `truncate` matches it bit for bit.
 */
export function quantize(values: Float32Array | number[], opts: { mode: QuantizeMode; bitDepth: 8 | 16; signed: boolean }): Uint8Array | Uint16Array {
  const max = opts.bitDepth === 16 ? 65535 : 255;
  const out = opts.bitDepth === 16 ? new Uint16Array(values.length) : new Uint8Array(values.length);
  const round = opts.mode === 'round';
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    let v = opts.signed ? f(f(x + 1) / 2) : f(x);
    // NaN maps to 0 (numpy's cast is undefined there; 0 is the safe, visible choice).
    v = v > 1 ? 1 : v >= 0 ? v : 0;
    const s = f(max * v);
    out[i] = round ? Math.floor(s + 0.5) : Math.trunc(s);
  }
  return out;
}
