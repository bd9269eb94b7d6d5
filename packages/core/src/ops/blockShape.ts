/** The map's [B, H, W, C], after checking that a block size r fits it (spatially, or in channels for depthToSpace). */
export function blockShape(op: string, shape: readonly number[], r: number, toSpace: boolean): [number, number, number, number] {
  const [b, h, w, c] = shape as [number, number, number, number];
  if (!Number.isInteger(r) || r < 1) throw new Error(`${op}: block size must be a positive integer, got ${r}`);
  if (toSpace ? c % (r * r) !== 0 : h % r !== 0 || w % r !== 0) {
    throw new Error(`${op}: a [${shape}] map does not split into ${r}×${r} blocks (${toSpace ? 'channels must be a multiple of r²' : 'height and width must be multiples of r'})`);
  }
  return [b, h, w, c];
}
