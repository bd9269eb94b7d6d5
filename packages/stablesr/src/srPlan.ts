import { type ImagePatch, imagePatchPlan, latentTilePlan } from '@stablesr/core';
import { type CanvasGeometry, canvasGeometry, postprocessSize } from './preprocess.js';
import { type SRRecipe } from './srRecipe.js';

/** What the plan needs to know about the networks. */
export interface PlanModel {
  /** Image pixels per latent pixel (the VAE's downsampling). */
  downsampling: number;
  /** The U-Net's downsampling: latent windows are multiples of it. */
  unetDownFactor: number;
}

/** The options that shape a run. */
export interface PlanOptions {
  steps: number;
  /** Requested latent tile side and overlap (latent pixels). */
  tileSize: number;
  tileOverlap: number;
  /** Target magnification (canvas layout). */
  upscale: number;
  /** Model input size in pixels. */
  inputSize: number;
  /** Pixel patches of the canvas layout. */
  patchSize: number;
  patchStride: number;
}

/**
 * Everything a `superResolve` run will do, decided from sizes alone before any tensor exists. The pipeline runs
 * this plan (it does not re-derive it), so progress totals and reports read it too.
 */
export interface SRPlan {
  recipe: SRRecipe;
  /** Canvas layout: the pre-processing geometry. */
  geometry?: CanvasGeometry;
  /** Height × width of the model input (the padded canvas, or the centre crop). */
  inputHeight: number;
  inputWidth: number;
  /** Pixel windows of the model input run one after another (one covering it all below the patch size). */
  patches: ImagePatch[];
  /** Latent tile side and overlap in use: the requested tile shrunk to the smallest patch latent, a multiple of the U-Net's downsampling. */
  tileSize: number;
  tileOverlap: number;
  /** Latent windows per sampling step for each patch (1: the whole latent). */
  tilesPerStep: number[];
  steps: number;
  /** U-Net evaluations of the run: `steps × Σ tilesPerStep` (a guided evaluation is one call on a doubled batch). */
  evaluations: number;
  /** Size of the pipeline's output, before the API crops it to `trunc(W·scale) × trunc(H·scale)`. */
  outputHeight: number;
  outputWidth: number;
}

/** A latent window of `h × w` is evaluated whole when it fits in one tile, else in tiles of the reference grid. */
export function latentFitsOneTile(h: number, w: number, tileSize: number): boolean {
  return h <= tileSize && w <= tileSize;
}

/** The plan of one image of `h × w` pixels (README 7.12–7.15 for what each recipe does). */
export function planSuperResolve(h: number, w: number, model: PlanModel, recipe: SRRecipe, o: PlanOptions): SRPlan {
  const f = model.downsampling;
  const down = model.unetDownFactor;
  let geometry: CanvasGeometry | undefined;
  let inputHeight: number;
  let inputWidth: number;
  let patches: ImagePatch[];
  let outputHeight: number;
  let outputWidth: number;
  if (recipe.layout === 'canvas') {
    geometry = canvasGeometry(h, w, o.inputSize, o.upscale);
    inputHeight = geometry.oriH + geometry.padH;
    inputWidth = geometry.oriW + geometry.padW;
    patches = imagePatchPlan(inputHeight, inputWidth, o.patchSize, o.patchStride);
    [outputHeight, outputWidth] = postprocessSize(inputHeight, inputWidth, geometry);
  } else {
    inputHeight = inputWidth = outputHeight = outputWidth = o.inputSize;
    patches = [{ y0: 0, x0: 0, h: o.inputSize, w: o.inputSize }];
  }
  let tileSize: number;
  let tileOverlap: number;
  if (recipe.latentTiles) {
    // A tile larger than the smallest patch latent is shrunk to it (see UpscaleOptions.tileSize).
    const minLatent = Math.min(...patches.map((p) => Math.min(p.h, p.w))) / f;
    tileSize = o.tileSize > minLatent ? Math.max(down, Math.floor(minLatent / down) * down) : o.tileSize;
    tileOverlap = Math.min(o.tileOverlap, tileSize - 1);
  } else {
    // The plain scripts evaluate the whole latent: a tile no latent exceeds.
    tileSize = Number.MAX_SAFE_INTEGER;
    tileOverlap = 0;
  }
  const tilesPerStep = patches.map((p) => {
    const lh = p.h / f;
    const lw = p.w / f;
    return latentFitsOneTile(lh, lw, tileSize) ? 1 : latentTilePlan(lh, lw, tileSize, tileOverlap).length;
  });
  const evaluations = o.steps * tilesPerStep.reduce((a, b) => a + b, 0);
  return { recipe, ...(geometry ? { geometry } : {}), inputHeight, inputWidth, patches, tileSize, tileOverlap, tilesPerStep, steps: o.steps, evaluations, outputHeight, outputWidth };
}
