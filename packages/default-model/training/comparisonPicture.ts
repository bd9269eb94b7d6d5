import sharp from 'sharp';

/** One row of the side-by-side picture: same-size 8-bit RGB panels, left to right. */
export interface ComparisonRow {
  label: string;
  panels: Uint8Array[];
}

/**
 * A grid PNG: a header with the column titles, then one row per crop (its label at the left edge of the first
 * panel), panels `side`² with a 4 px gutter. Written by sharp (SVG text rendered by librsvg).
 */
export async function writeComparisonPicture(path: string, side: number, columns: readonly string[], rows: readonly ComparisonRow[]): Promise<void> {
  const gap = 4;
  const header = 28;
  const width = columns.length * side + (columns.length + 1) * gap;
  const height = header + rows.length * (side + gap) + gap;
  const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const titles = columns.map((c, i) => `<text x="${gap + i * (side + gap) + side / 2}" y="19" text-anchor="middle" font-family="sans-serif" font-size="15" fill="#111">${esc(c)}</text>`).join('');
  const labels = rows.map((r, j) => `<rect x="${gap}" y="${header + j * (side + gap)}" width="${Math.min(side, 8 + r.label.length * 7)}" height="18" fill="#000" fill-opacity="0.55"/><text x="${gap + 4}" y="${header + j * (side + gap) + 13}" font-family="sans-serif" font-size="11" fill="#fff">${esc(r.label)}</text>`).join('');
  const composites: sharp.OverlayOptions[] = [];
  for (const [j, r] of rows.entries()) {
    for (const [i, p] of r.panels.entries()) {
      composites.push({ input: await sharp(Buffer.from(p), { raw: { width: side, height: side, channels: 3 } }).png().toBuffer(), left: gap + i * (side + gap), top: header + j * (side + gap) });
    }
  }
  composites.push({ input: Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${titles}${labels}</svg>`), left: 0, top: 0 });
  const tmp = `${path}.partial-${process.pid}`;
  await sharp({ create: { width, height, channels: 3, background: '#f4f4f4' } }).composite(composites).png({ compressionLevel: 9 }).toFile(tmp);
  const { renameSync } = await import('node:fs');
  renameSync(tmp, path);
}

/** Nearest-neighbour ×`scale` of an 8-bit RGB image: how the LR input looks at the output's size. */
export function nearestUpscale(lr: Uint8Array, width: number, height: number, scale: number): Uint8Array {
  const out = new Uint8Array(width * scale * height * scale * 3);
  for (let y = 0; y < height * scale; y++) {
    for (let x = 0; x < width * scale; x++) {
      const s = (Math.floor(y / scale) * width + Math.floor(x / scale)) * 3;
      const d = (y * width * scale + x) * 3;
      out[d] = lr[s]!;
      out[d + 1] = lr[s + 1]!;
      out[d + 2] = lr[s + 2]!;
    }
  }
  return out;
}
