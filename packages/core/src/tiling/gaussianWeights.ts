/**
 * Blend weights of StableSR's canvas samplers (`LatentDiffusionSRTextWT._gaussian_weights`), in float64:
 * `G[y][x] = gy(y)·gx(x)` with `g(u) = exp(−(u − m)² / n² / (2·0.01)) / √(2π·0.01)`, where the x centre is
 * `(w − 1)/2` but the y centre is `h/2` — an asymmetry of the reference, reproduced on purpose.
 */
const VAR = 0.01;

function profile(n: number, midpoint: number): Float64Array {
  const out = new Float64Array(n);
  for (let u = 0; u < n; u++) out[u] = Math.exp((-(u - midpoint) * (u - midpoint)) / (n * n) / (2 * VAR)) / Math.sqrt(2 * Math.PI * VAR);
  return out;
}

/** Row-major [height, width] weights of one tile. */
export function gaussianTileWeights(width: number, height: number): Float64Array {
  if (!Number.isInteger(width) || width < 1 || !Number.isInteger(height) || height < 1) {
    throw new Error(`gaussian tile weights: tile must be a positive integer size, got ${width}×${height}`);
  }
  const gx = profile(width, (width - 1) / 2);
  const gy = profile(height, height / 2);
  const w = new Float64Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) w[y * width + x] = gy[y]! * gx[x]!;
  return w;
}

/**
 * Σ of the tile weights over the canvas (the reference's `contributors`), row-major [height, width],
 * for tiles placed at the given origins.
 */
export function blendNormalizer(height: number, width: number, tiles: readonly { y0: number; x0: number; h: number; w: number }[]): Float64Array {
  const sum = new Float64Array(height * width);
  for (const t of tiles) {
    const g = gaussianTileWeights(t.w, t.h);
    for (let y = 0; y < t.h; y++) for (let x = 0; x < t.w; x++) sum[(t.y0 + y) * width + t.x0 + x]! += g[y * t.w + x]!;
  }
  return sum;
}
