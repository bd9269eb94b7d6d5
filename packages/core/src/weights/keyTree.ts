import { type WeightView } from './weightView.js';
import { WeightFileError } from './tensorSource.js';

/**
 * Reading a network's structure off its checkpoint keys, for the config inference of each model
 * (`…ConfigFromWeights`): the key tree mirrors the module tree, so `nn.ModuleList` / `nn.Sequential` children
 * are the integer segments under a prefix and layer widths are the stored shapes.
 */

/**
 * The integer child indices under `prefix` of `view`, ascending: `input_blocks.` over keys
 * `input_blocks.0.0.weight`, `input_blocks.3.1.norm.bias` gives `[0, 3]`. Non-integer segments are ignored.
 */
export function childIndices(view: WeightView, prefix: string): number[] {
  const found = new Set<number>();
  for (const k of view.keys()) {
    if (!k.startsWith(prefix)) continue;
    const seg = k.slice(prefix.length).split('.', 1)[0]!;
    if (/^\d+$/.test(seg)) found.add(Number(seg));
  }
  return [...found].sort((a, b) => a - b);
}

/** Whether any key of `view` starts with `prefix`. */
export function hasKeysUnder(view: WeightView, prefix: string): boolean {
  return view.keys().some((k) => k.startsWith(prefix));
}

/**
 * The stored shape of `name`, for inference that cannot go on without it: a missing key is a
 * {@link WeightFileError} naming it and saying which structural value needed it.
 */
export function storedShape(view: WeightView, name: string, needed: string): readonly number[] {
  const shape = view.shapeOf(name);
  if (!shape) throw new WeightFileError(view.origin, `missing key (needed to read ${needed} off the weights; give it in the config)`, view.prefix + name);
  return shape;
}
