import { TextToLatent, type TextToLatentGenerateOptions, type TextToLatentLoadOptions, type TextToLatentResult } from '@stablesr/unet';

// Text-to-latent generation for `stablesr generate` (and the examples): @stablesr/unet's file-level loader.

export type { TextToLatentLoadOptions, TextToLatentResult };
/** Options of one generation (see @stablesr/unet `TextToLatentGenerateOptions`). */
export type TextToLatentOptions = TextToLatentGenerateOptions;
/** A loaded text-to-latent model: `generate(opts)` any number of times, then `dispose()`. */
export type TextToLatentModel = TextToLatent;

/** `TextToLatent.load(opts)` from @stablesr/unet. */
export function loadTextToLatent(opts: TextToLatentLoadOptions): Promise<TextToLatentModel> {
  return TextToLatent.load(opts);
}
