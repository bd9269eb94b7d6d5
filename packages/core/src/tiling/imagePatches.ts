/**
 * Pixel-space patches of the official `_tile` script (`ImageSpliterTh` in scripts/util_image.py):
 * for images larger than the patch size (default 1280 px, stride 1000) each patch runs through the whole
 * pipeline and the results are averaged with equal weights. Number math only.
 */

export interface ImagePatch {
  y0: number;
  x0: number;
  h: number;
  w: number;
}

/** Official defaults (`--vqgantile_size`, `--vqgantile_stride`). */
export const DEFAULT_PATCH_SIZE = 1280;
export const DEFAULT_PATCH_STRIDE = 1000;

/**
 * `ImageSpliterTh.extract_starts` (StableSR's current scripts/util_image.py): `range(0, n, stride)`, every start
 * that overruns moved to `n − patch`, duplicates dropped keeping first-occurrence order. (An older revision moved
 * only the last start, so that with stride < patch the one before could overrun: 2048 px at 1280 / 1000 gave
 * [0, 1000, 768], a patch past the border.)
 */
export function patchStarts(length: number, patch: number, stride: number): number[] {
  if (!Number.isInteger(patch) || patch < 1) throw new Error(`image patches: patch size must be a positive integer, got ${patch}`);
  if (!Number.isInteger(stride) || stride < 1 || stride > patch) throw new Error(`image patches: stride must be an integer in [1, patch size ${patch}], got ${stride}`);
  if (length <= patch) return [0];
  const starts: number[] = [];
  for (let s = 0; s < length; s += stride) {
    const c = Math.min(s, length - patch);
    if (!starts.includes(c)) starts.push(c);
  }
  return starts;
}

/**
 * Patches in the splitter's order (x-major: for each x start, every y start). A side not larger than
 * the patch is taken whole.
 */
export function imagePatchPlan(height: number, width: number, patch = DEFAULT_PATCH_SIZE, stride = DEFAULT_PATCH_STRIDE): ImagePatch[] {
  const ys = patchStarts(height, patch, stride);
  const xs = patchStarts(width, patch, stride);
  const h = Math.min(patch, height);
  const w = Math.min(patch, width);
  const out: ImagePatch[] = [];
  for (const x0 of xs) for (const y0 of ys) out.push({ y0, x0, h, w });
  return out;
}
