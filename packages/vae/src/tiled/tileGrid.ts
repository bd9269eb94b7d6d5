/**
 * Tile layout for the tiled autoencoder, as plain number math.
 *
 * Tiles partition the coarsest grid the network sees (the latent) into cores; at a feature map that is
 * 2^shift times larger (an encoder/decoder level, or the image) a tile's core is the same box scaled by
 * 2^shift. Cores therefore partition every level exactly, which is what lets GroupNorm statistics be
 * summed tile by tile without counting any position twice.
 */
export interface TileGrid {
  /** Size of the base (latent) grid. */
  readonly height: number;
  readonly width: number;
  /** Tile boundaries on the base grid: rows[0] = 0 < … < rows[n] = height (same for cols). */
  readonly rows: readonly number[];
  readonly cols: readonly number[];
}

/** A half-open box [y0, y1) × [x0, x1). */
export interface Box {
  y0: number;
  y1: number;
  x0: number;
  x1: number;
}

function split(size: number, tile: number): number[] {
  const n = Math.max(1, Math.ceil(size / tile));
  const b: number[] = [];
  for (let i = 0; i <= n; i++) b.push(Math.round((i * size) / n));
  return b;
}

/** Splits a base grid into ⌈H/T⌉ × ⌈W/T⌉ tiles of (nearly) equal size, none larger than `tileSize`. */
export function planTileGrid(height: number, width: number, tileSize: number): TileGrid {
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) throw new Error(`tile grid: invalid size ${height}×${width}`);
  if (!Number.isInteger(tileSize) || tileSize < 1) throw new Error(`tileSize must be a positive integer, got ${tileSize}`);
  return { height, width, rows: split(height, tileSize), cols: split(width, tileSize) };
}

export function tileCount(g: TileGrid): number {
  return (g.rows.length - 1) * (g.cols.length - 1);
}

/** Core of tile `t` (row-major index) at a level `2^shift` times the base grid. */
export function tileCore(g: TileGrid, t: number, shift: number): Box {
  const nc = g.cols.length - 1;
  const r = Math.floor(t / nc);
  const c = t % nc;
  const s = 2 ** shift;
  return { y0: g.rows[r]! * s, y1: g.rows[r + 1]! * s, x0: g.cols[c]! * s, x1: g.cols[c + 1]! * s };
}

export function boxUnion(a: Box | undefined, b: Box): Box {
  if (!a) return { ...b };
  return { y0: Math.min(a.y0, b.y0), y1: Math.max(a.y1, b.y1), x0: Math.min(a.x0, b.x0), x1: Math.max(a.x1, b.x1) };
}

export function boxContains(outer: Box, inner: Box): boolean {
  return outer.y0 <= inner.y0 && outer.x0 <= inner.x0 && outer.y1 >= inner.y1 && outer.x1 >= inner.x1;
}

/** Clips a box to [0, h) × [0, w). */
export function clipBox(b: Box, h: number, w: number): Box {
  return { y0: Math.max(0, b.y0), y1: Math.min(h, b.y1), x0: Math.max(0, b.x0), x1: Math.min(w, b.x1) };
}
