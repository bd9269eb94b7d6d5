import { type Fixture, configEntry as namedEntry } from '@stablesr/core';
import { type AutoencoderKLConfig, SD_SCALE_FACTOR, parseAutoencoderKLConfig } from '../config.js';

/** A manifest config entry by name; keys look like `"cfw (AutoencoderKLResi)"` and match by the part before " (". */
export function configEntry(fx: Fixture, name: string): unknown {
  return namedEntry(fx.config, name)?.value;
}

/** The autoencoder config of a fixture, from the first of `names` present. */
export function autoencoderConfigOf(fx: Fixture, names: readonly string[]): AutoencoderKLConfig {
  for (const n of names) {
    const raw = configEntry(fx, n);
    if (raw !== undefined) return parseAutoencoderKLConfig(raw, `${fx.dir}/manifest.json config.${n}`);
  }
  throw new Error(`${fx.dir}/manifest.json: config has none of ${names.join(', ')}`);
}

/** `scale_factor` of the manifest, else SD's. */
export function scaleFactorOf(fx: Fixture): number {
  const s = configEntry(fx, 'scale_factor');
  return typeof s === 'number' ? s : SD_SCALE_FACTOR;
}

/** Keeps only outputs the manifest lists (the runner rejects others). */
export function listedOutputs<T>(fx: Fixture, outs: Record<string, T>, dispose: (v: T) => void): Record<string, T> {
  const kept: Record<string, T> = {};
  for (const [k, v] of Object.entries(outs)) {
    if (fx.manifest.outputs[k]) kept[k] = v;
    else dispose(v);
  }
  return kept;
}
