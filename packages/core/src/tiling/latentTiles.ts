/**
 * The latent tile grid of StableSR's canvas samplers (`p_mean_variance_canvas`, `p_sample_ddim_sr_tcanvas`):
 * origins `max(r·(T − ov), 0)` for r = 0, 1, … until a tile reaches the border, the last one moved flush
 * with it (`W − T`); tiles visited x-major (for each x origin, every y origin). Number math only.
 */

export interface LatentTile {
  /** Position in the grid: `row` indexes x origins, `col` y origins (the reference's naming). */
  row: number;
  col: number;
  y0: number;
  x0: number;
  /** Tile height and width (both = tile size unless the latent is smaller than a tile). */
  h: number;
  w: number;
}

function checkTiling(size: number, tile: number, overlap: number, what: string): void {
  if (!Number.isInteger(size) || size < 1) throw new Error(`${what}: size must be a positive integer, got ${size}`);
  if (!Number.isInteger(tile) || tile < 1) throw new Error(`${what}: tile size must be a positive integer, got ${tile}`);
  if (!Number.isInteger(overlap) || overlap < 0) throw new Error(`${what}: tile overlap must be a non-negative integer, got ${overlap}`);
  if (overlap >= tile) throw new Error(`${what}: tile overlap (${overlap}) must be smaller than the tile size (${tile})`);
}

/**
 * Tile origins along one axis of length `size`. When `size ≤ tile` there is a single tile at 0
 * (the caller shrinks the tile to `size`; the reference would slice from a negative offset).
 */
export function tileOrigins(size: number, tile: number, overlap: number): number[] {
  checkTiling(size, tile, overlap, 'latent tiling');
  if (size <= tile) return [0];
  const origins: number[] = [];
  let end = 0;
  for (let r = 0; end < size; r++) {
    const o = Math.max(r * tile - overlap * r, 0);
    origins.push(o);
    end = o + tile;
  }
  origins[origins.length - 1] = size - tile;
  return origins;
}

/** The full grid over a latent of `height × width`, in the reference's visiting order (x-major). */
export function latentTilePlan(height: number, width: number, tile: number, overlap: number): LatentTile[] {
  const xs = tileOrigins(width, tile, overlap);
  const ys = tileOrigins(height, tile, overlap);
  const h = Math.min(tile, height);
  const w = Math.min(tile, width);
  const plan: LatentTile[] = [];
  xs.forEach((x0, row) => ys.forEach((y0, col) => plan.push({ row, col, y0, x0, h, w })));
  return plan;
}
