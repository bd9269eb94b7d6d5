/**
 * What to download, for when `--checkpoint` is missing: one line, because every CLI error is one line.
 * The released StableSR checkpoints carry the OpenCLIP text tower (`cond_stage_model.*`) themselves; only the
 * BPE vocabulary is separate (it ships inside the open_clip Python package).
 */
export const UPSCALE_WEIGHTS_HINT =
  'upscale needs --checkpoint FILE: download the StableSR diffusion weights (stablesr_000117.ckpt for 512 px, or stablesr_768v_000139.ckpt for 768 px) ' +
  'and the CFW decoder vqgan_cfw_00011.ckpt (--cfw FILE) from https://huggingface.co/Iceclear/StableSR or the IceClear/StableSR GitHub release; ' +
  'the text encoder is inside the checkpoint, the OpenCLIP vocabulary bpe_simple_vocab_16e6.txt.gz (--tokenizer) ships with the open_clip package (src/open_clip/)';

export const GENERATE_WEIGHTS_HINT =
  'generate needs --checkpoint FILE: a Stable Diffusion 2.x checkpoint (e.g. v2-1_512-ema-pruned.ckpt from https://huggingface.co/stabilityai/stable-diffusion-2-1-base) ' +
  'holding model.diffusion_model.*, cond_stage_model.* and first_stage_model.*; the OpenCLIP vocabulary bpe_simple_vocab_16e6.txt.gz (--tokenizer) ships with the open_clip package';
