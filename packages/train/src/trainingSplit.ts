import { Xoshiro128 } from '@stablesr/core';

/** Which images train and which are held out for validation (names, each list sorted). */
export interface TrainingSplit {
  train: string[];
  validation: string[];
}

/**
 * A held-out split that depends only on the names and the seed: `count` names drawn by a seeded shuffle go to
 * validation (default a tenth, at least one when there are two or more images, none for a single image).
 */
export function splitTrainingImages(names: readonly string[], seed: number, count?: number): TrainingSplit {
  const n = names.length;
  const k = count ?? (n >= 2 ? Math.max(1, Math.round(n / 10)) : 0);
  if (!Number.isInteger(k) || k < 0 || (n > 0 && k >= n)) throw new Error(`--val-count must be an integer in [0, ${Math.max(0, n - 1)}] for ${n} image(s), got ${k}`);
  const order = [...names].sort();
  const rng = new Xoshiro128(seed ^ 0x5eed5);
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return { validation: order.slice(0, k).sort(), train: order.slice(k).sort() };
}
