import { type TensorSource } from '@stablesr/core';
import { type ConditionalUNetConfig } from './conditionalUNet.js';
import { type IRSDEConfig } from './irsdeSchedule.js';
import { type IRSDESamplerName } from './irsdeSuperResolve.js';
import { type NoiseParameterization, NOISE_PARAMETERIZATIONS } from './noiseParameterization.js';

/** The safetensors `__metadata__` entry under which stablesr records how an IR-SDE model is built and sampled. */
export const IRSDE_METADATA_KEY = 'stablesr.irsde';

/**
 * What a weight file alone cannot say about an IR-SDE model: written by `stablesr train` next to the weights, and
 * read by {@link IRSDEUpscaler.load} so that a trained file upscales with no other options. The authors' `.pth`
 * files have none (their settings are the SISR defaults).
 */
export interface IRSDEModelMetadata {
  /** The network's constructor parameters (including stablesr's `pixel_unshuffle`). */
  network: ConditionalUNetConfig;
  /** The SDE the model was trained with. */
  sde: IRSDEConfig;
  /** Upscaling factor of the training pairs. */
  scale: number;
  /** What the network outputs; absent means `eps` (the reference's). */
  parameterization?: NoiseParameterization;
  /** Recommended sampler and step count (1 … T) for upscaling, where the trainer or the model card chose them. */
  sampler?: IRSDESamplerName;
  steps?: number;
  /** Recommended noise temperature of the sampler (see IRSDESuperResolveOptions.temperature); absent means 1. */
  temperature?: number;
  /** Whether upscaling runs the geometric self-ensemble by default (IRSDESuperResolveOptions.selfEnsemble); absent means no. */
  selfEnsemble?: boolean;
}

/** The metadata record for a weight file. */
export function encodeIRSDEMetadata(m: IRSDEModelMetadata): Record<string, string> {
  return { [IRSDE_METADATA_KEY]: JSON.stringify(m) };
}

/** The model's metadata, or undefined when the file has none; a malformed entry is an error naming the file and field. */
export function readIRSDEMetadata(source: TensorSource): IRSDEModelMetadata | undefined {
  const text = source.metadata[IRSDE_METADATA_KEY];
  if (text === undefined) return undefined;
  const bad = (what: string): never => {
    throw new Error(`${source.origin}: metadata ${IRSDE_METADATA_KEY}: ${what}`);
  };
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch (e) {
    return bad(`not JSON (${(e as Error).message})`);
  }
  if (typeof m !== 'object' || m === null) return bad('not an object');
  const r = m as Partial<IRSDEModelMetadata>;
  if (typeof r.network !== 'object' || r.network === null) bad('network is missing');
  if (typeof r.sde !== 'object' || r.sde === null || typeof r.sde.max_sigma !== 'number') bad('sde.max_sigma is missing');
  if (!Number.isInteger(r.scale) || r.scale! < 1) bad(`scale must be a positive integer, got ${JSON.stringify(r.scale)}`);
  if (r.sampler !== undefined && r.sampler !== 'sde' && r.sampler !== 'posterior') bad(`sampler must be "sde" or "posterior", got ${JSON.stringify(r.sampler)}`);
  if (r.parameterization !== undefined && !NOISE_PARAMETERIZATIONS.includes(r.parameterization)) bad(`parameterization must be one of ${NOISE_PARAMETERIZATIONS.join(', ')}, got ${JSON.stringify(r.parameterization)}`);
  if (r.temperature !== undefined && !(typeof r.temperature === 'number' && r.temperature >= 0 && r.temperature <= 2)) bad(`temperature must be a number in [0, 2], got ${JSON.stringify(r.temperature)}`);
  if (r.selfEnsemble !== undefined && typeof r.selfEnsemble !== 'boolean') bad(`selfEnsemble must be true or false, got ${JSON.stringify(r.selfEnsemble)}`);
  if (r.steps !== undefined && (!Number.isInteger(r.steps) || r.steps < 1 || r.steps > (r.sde!.T ?? 100))) bad(`steps must be an integer 1 … sde.T (${r.sde!.T ?? 100}), got ${JSON.stringify(r.steps)}`);
  return r as IRSDEModelMetadata;
}
