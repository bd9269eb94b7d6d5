import { type PatchBlend } from './patchBlender.js';

/** The samplers of StableSR's scripts. */
export type SamplerKind = 'ddpm' | 'ddim';

/** How the LR image becomes the model's input. */
export type InputLayout =
  /** torchvision `Resize(input_size)` + `CenterCrop(input_size)`: a square of `input_size`, the output has that size (README 7.12 step 2). */
  | 'centerCrop'
  /** Bicubic upscale by `max(input_size / min(h, w), upscale)`, reflect pad to a multiple of 32, pixel patches above the patch size (README 7.13 step 2). */
  | 'canvas';

/** How x_T is made from the init latent (README 7.12 steps 4–5, 7.13 step 4, 7.15 step 2). */
export type InitialLatentRule =
  /** `q_sample(init_latent, T − 1)` on the full schedule: draw `x_T`. */
  | 'noised'
  /**
   * Pure noise: the script draws a q_sample noise it then drops (`x_T = None`: draw `discarded`), and the sampler
   * draws `x_T` itself. Its shape is the init latent's: `sample()`'s default `image_size // 8` is that shape
   * whenever the reference runs at all (the U-Net's SPADE features come from the init latent, looked up by width).
   */
  | 'noise';

/**
 * One official StableSR inference script, as the choices the shared pipeline makes for it. Every path through
 * `superResolve` is one of {@link SR_RECIPES}; the golden fixtures `sampler.*` run the same recipes.
 */
export interface SRRecipe {
  /** Key in {@link SR_RECIPES}. */
  name: SRRecipeName;
  /** The reference script (StableSR `scripts/`). */
  script: string;
  sampler: SamplerKind;
  layout: InputLayout;
  /** The centre-cropped input is clamped to [-1, 1] (the DDPM script does, the DDIM one does not); canvases always are. */
  clampInput: boolean;
  /**
   * Whose posterior gives `init_latent`: the CFW encoder (plain scripts: `vq_model.encode`, whose features also feed
   * the decoder) or the first-stage VAE (canvas scripts; the CFW features then come from a second, noise-free
   * encode). Without a CFW model the first stage serves both (CFW training froze the first stage's encoder).
   */
  initLatentFrom: 'cfw' | 'firstStage';
  xT: InitialLatentRule;
  /** Latents larger than a tile are sampled in Gaussian-blended tiles (canvas scripts) or always whole (plain scripts). */
  latentTiles: boolean;
  /** How overlapping pixel patches are averaged (canvas layout only). */
  patchBlend: PatchBlend;
}

export type SRRecipeName = 'ddpm-crop' | 'ddpm-canvas' | 'ddim-crop' | 'ddim-canvas';

/** The four scripts (README 7.12–7.15). `StableSR.upscale` runs the canvas ones, the scripts StableSR's README uses for real images. */
export const SR_RECIPES: Readonly<Record<SRRecipeName, SRRecipe>> = {
  'ddpm-crop': {
    name: 'ddpm-crop',
    script: 'sr_val_ddpm_text_T_vqganfin_old.py',
    sampler: 'ddpm',
    layout: 'centerCrop',
    clampInput: true,
    initLatentFrom: 'cfw',
    xT: 'noise',
    latentTiles: false,
    patchBlend: 'uniform',
  },
  'ddpm-canvas': {
    name: 'ddpm-canvas',
    script: 'sr_val_ddpm_text_T_vqganfin_oldcanvas_tile.py',
    sampler: 'ddpm',
    layout: 'canvas',
    clampInput: true,
    initLatentFrom: 'firstStage',
    xT: 'noised',
    latentTiles: true,
    // The DDPM `_tile` script averages pixel patches uniformly, the DDIM one with Gaussian weights.
    patchBlend: 'uniform',
  },
  'ddim-crop': {
    name: 'ddim-crop',
    script: 'sr_val_ddim_text_T_negativeprompt.py',
    sampler: 'ddim',
    layout: 'centerCrop',
    clampInput: false,
    initLatentFrom: 'cfw',
    xT: 'noised',
    latentTiles: false,
    patchBlend: 'gaussian',
  },
  'ddim-canvas': {
    name: 'ddim-canvas',
    script: 'sr_val_ddim_text_T_negativeprompt_canvas_tile.py',
    sampler: 'ddim',
    layout: 'canvas',
    clampInput: true,
    initLatentFrom: 'firstStage',
    xT: 'noise',
    latentTiles: true,
    patchBlend: 'gaussian',
  },
};

/** The recipe `StableSR.upscale` runs for a sampler: the canvas (`_tile`) script. */
export function canvasRecipe(sampler: SamplerKind): SRRecipe {
  const r = sampler === 'ddpm' ? SR_RECIPES['ddpm-canvas'] : sampler === 'ddim' ? SR_RECIPES['ddim-canvas'] : undefined;
  if (!r) throw new Error(`sampler must be "ddpm" or "ddim", got "${String(sampler)}"`);
  return r;
}
