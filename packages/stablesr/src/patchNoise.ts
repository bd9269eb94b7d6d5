import { type NoiseSource, SeededNoise } from '@stablesr/core';

/**
 * The seed of pixel patch `index` of a run seeded with `seed`. Patch 0 keeps the run's seed, so one-patch images
 * draw exactly what they always drew; every other patch gets its own stream, derived from (seed, index) alone, so
 * that a patch computed on its own — in another process, on another machine — equals the same patch of a
 * single-process run. (One shared stream would make patch i depend on how many draws patches 0…i−1 took.)
 */
export function patchSeed(seed: number, index: number): number {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error(`patchSeed: seed must be an integer in [0, 2^32), got ${seed}`);
  if (!Number.isInteger(index) || index < 0) throw new Error(`patchSeed: index must be a non-negative integer, got ${index}`);
  if (index === 0) return seed;
  // murmur3's 32-bit finaliser over seed ⊕ golden-ratio multiples of the index: nearby (seed, index) pairs give unrelated seeds.
  let z = (seed ^ Math.imul(index, 0x9e3779b9)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** The noise source of each pixel patch of a run seeded with `seed` (see {@link patchSeed}). */
export type PatchNoise = (index: number) => NoiseSource;

/** {@link PatchNoise} of fresh {@link SeededNoise} streams, one per patch. */
export function seededPatchNoise(seed: number): PatchNoise {
  return (index) => new SeededNoise(patchSeed(seed, index));
}
