import { type WeightView, WeightFileError } from '@stablesr/core';

/**
 * Strict-loading check for modules that deliberately leave some checkpoint tensors unread (a skipped last block,
 * the contrastive projection): every unread key under `view` must be matched by `allowed`, else a
 * {@link WeightFileError} names the unexpected keys.
 */
export function assertOnlyAllowedUnused(view: WeightView, allowed: (key: string) => boolean, what: string): void {
  const unexpected = view.unusedKeys().filter((k) => !allowed(k));
  if (unexpected.length) {
    const shown = unexpected.slice(0, 8).map((k) => view.prefix + k).join(', ');
    throw new WeightFileError(view.origin, `${unexpected.length} unexpected key(s) for ${what}: ${shown}${unexpected.length > 8 ? ', …' : ''} (the config does not fit this checkpoint)`);
  }
}
