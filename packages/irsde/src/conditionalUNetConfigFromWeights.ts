import { type WeightView, childIndices, storedShape } from '@stablesr/core';
import { type ConditionalUNetConfig } from './conditionalUNet.js';

/**
 * `ConditionalUNet`'s constructor parameters read off its state dict, so the authors' `.pth` files load with no
 * config: `init_conv` is a 7×7 conv of cat[x, μ] (2·in_nc → nf), `final_conv` maps nf → out_nc, and `downs` holds one
 * entry per level (depth). Values given in `given` win; a contradiction then fails in the strict loader, naming the key.
 */
export function conditionalUNetConfigFromWeights(view: WeightView, given: Partial<ConditionalUNetConfig> = {}): ConditionalUNetConfig {
  const init = storedShape(view, 'init_conv.weight', 'in_nc and nf');
  const final = storedShape(view, 'final_conv.weight', 'out_nc');
  const levels = childIndices(view, 'downs.').length;
  const blocks = (given.pixel_unshuffle ?? 1) ** 2;
  if (init.length !== 4 || init[1]! % (2 * blocks) !== 0) throw new Error(`${view.origin}: init_conv.weight has shape [${init}], not a conv of cat[x, μ] (2·in_nc${blocks > 1 ? '·r²' : ''} input channels)`);
  return {
    in_nc: given.in_nc ?? init[1]! / 2 / blocks,
    out_nc: given.out_nc ?? final[0]! / blocks,
    nf: given.nf ?? init[0]!,
    depth: given.depth ?? (levels > 0 ? levels : undefined),
    ...(given.upscale !== undefined && { upscale: given.upscale }),
    ...(given.pixel_unshuffle !== undefined && { pixel_unshuffle: given.pixel_unshuffle }),
  };
}

/** Whether a state dict's keys are the authors' `ConditionalUNet` (`init_conv.weight` and `downs.*`): how an IR-SDE file is told from others. */
export function isConditionalUNetStateDict(keys: readonly string[]): boolean {
  return keys.includes('init_conv.weight') && keys.some((k) => k.startsWith('downs.'));
}
