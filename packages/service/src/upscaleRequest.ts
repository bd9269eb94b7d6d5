import { OptionError, type OptionLabel, UPSCALE_OPTION_SPECS, parseUpscaleOptionStrings, planFor, upscaleRun, validateUpscaleOptions } from '@stablesr/stablesr';
import { IRSDE_UPSCALE_OPTION_SPECS, checkIrsdeSteps } from '@stablesr/irsde';
import { type IrsdeDescriptor, type ModelDescriptor, type StableSRDescriptor } from './modelDescriptor.js';
import { RequestError } from './requestError.js';

/** Options of one request as plain JSON values (they travel in the job), named as the library names them. */
export type RequestOptions = Readonly<Record<string, string | number>>;

/** A validated request: which model, its options, and what the run will be. */
export interface UpscaleRequest {
  model: string;
  options: RequestOptions;
  inputWidth: number;
  inputHeight: number;
  outputWidth: number;
  outputHeight: number;
  /** Pixel patches (StableSR canvas plans above the patch size); above 1 the job is split, one child job per patch. */
  patches: number;
}

/** Query parameters are named like the CLI's flags. */
const QUERY_LABEL: OptionLabel = (s) => `query parameter ${s.flag}`;

/** The IR-SDE options a request takes: the CLI's names and ranges (one table in @stablesr/irsde). */
const IRSDE_PARAMS = new Map(IRSDE_UPSCALE_OPTION_SPECS.map((p) => [p.flag, p]));

/**
 * Validates the query of `POST /v1/upscale` against the chosen model (the `model` parameter, or the only model)
 * and plans the run for an input of `width × height`. Every refusal is a 400 {@link RequestError} naming the
 * parameter: unknown, malformed, out of range, or in conflict with another.
 */
export function prepareUpscaleRequest(models: readonly ModelDescriptor[], query: Readonly<Record<string, unknown>>, width: number, height: number): UpscaleRequest {
  const strings: Record<string, string> = {};
  for (const [k, v] of Object.entries(query)) {
    if (typeof v !== 'string') throw new RequestError(400, `query parameter ${k} given more than once`);
    strings[k] = v;
  }
  const { model: name, ...rest } = strings;
  const model = chooseModel(models, name);
  return model.family === 'stablesr' ? prepareStableSR(model, rest, width, height) : prepareIrsde(model, rest, width, height);
}

function chooseModel(models: readonly ModelDescriptor[], name: string | undefined): ModelDescriptor {
  if (models.length === 0) throw new RequestError(503, 'no model is loaded yet: start a worker (stablesr worker --redis URL …)', { 'retry-after': '5' });
  if (name === undefined) {
    if (models.length === 1) return models[0]!;
    throw new RequestError(400, `query parameter model is required: several models are loaded (${models.map((m) => m.name).join(', ')})`);
  }
  const m = models.find((x) => x.name === name);
  if (!m) throw new RequestError(400, `query parameter model must be one of ${models.map((x) => x.name).join(', ')}, got "${name}"`);
  return m;
}

const STABLESR_FLAGS = new Set(UPSCALE_OPTION_SPECS.map((s) => s.flag));

function prepareStableSR(m: StableSRDescriptor, query: Record<string, string>, width: number, height: number): UpscaleRequest {
  for (const k of Object.keys(query)) if (!STABLESR_FLAGS.has(k)) throw new RequestError(400, `unknown query parameter ${k} (model ${m.name} takes: model, ${[...STABLESR_FLAGS].join(', ')})`);
  try {
    const values = parseUpscaleOptionStrings(query, QUERY_LABEL);
    const o = validateUpscaleOptions(values, m.limits);
    const { sampling, run } = upscaleRun(o, { parameterization: m.parameterization });
    const plan = planFor(m.plan, height, width, sampling, run);
    return {
      model: m.name,
      options: values as RequestOptions,
      inputWidth: width,
      inputHeight: height,
      // As StableSR.upscale: trunc(W·scale) × trunc(H·scale), at most the pipeline's output.
      outputWidth: Math.min(plan.outputWidth, Math.trunc(width * o.scale)),
      outputHeight: Math.min(plan.outputHeight, Math.trunc(height * o.scale)),
      patches: plan.patches.length,
    };
  } catch (e) {
    if (e instanceof OptionError) throw new RequestError(400, e.describe(QUERY_LABEL));
    throw e;
  }
}

function prepareIrsde(m: IrsdeDescriptor, query: Record<string, string>, width: number, height: number): UpscaleRequest {
  const options: Record<string, string | number> = {};
  for (const [k, raw] of Object.entries(query)) {
    const p = IRSDE_PARAMS.get(k);
    if (!p) throw new RequestError(400, `unknown query parameter ${k} (model ${m.name} is an IR-SDE model; it takes: model, ${[...IRSDE_PARAMS.keys()].join(', ')})`);
    if (p.kind === 'choice' || p.kind === 'switch') {
      if (!p.choices!.includes(raw)) throw new RequestError(400, `query parameter ${k} must be one of ${p.choices!.join(', ')}, got "${raw}"`);
      // Options travel in the job as JSON values; a switch is kept as its on/off word and read by the worker.
      options[p.name] = raw;
      continue;
    }
    if (p.kind === 'int' && !/^[+-]?\d+$/.test(raw.trim())) throw new RequestError(400, `query parameter ${k} must be a whole number, got "${raw}"`);
    const v = raw.trim() === '' ? Number.NaN : Number(raw);
    if (!Number.isFinite(v)) throw new RequestError(400, `query parameter ${k} must be a number, got "${raw}"`);
    if (v < p.min! || (p.max !== undefined && v > p.max)) throw new RequestError(400, `query parameter ${k} must be ${v < p.min! ? `≥ ${p.min}` : `≤ ${p.max}`}, got ${raw}`);
    options[p.name] = v;
  }
  const stepsProblem = checkIrsdeSteps(m.timesteps, options.steps as number | undefined, (options.sampler as string | undefined) ?? m.defaultSampler, 'query parameter steps');
  if (stepsProblem) throw new RequestError(400, stepsProblem);
  if (options.tileSize !== undefined && options.tileOverlap !== undefined && options.tileOverlap >= options.tileSize) throw new RequestError(400, `query parameter tile-overlap must be smaller than tile-size (${options.tileSize}), got ${options.tileOverlap}`);
  const scale = (options.scale as number | undefined) ?? m.trainedScale ?? m.defaultScale;
  if (m.trainedScale !== undefined && scale !== m.trainedScale) throw new RequestError(400, `query parameter scale must be ${m.trainedScale} for model ${m.name} (it was trained for ×${m.trainedScale}), got ${scale}`);
  return { model: m.name, options, inputWidth: width, inputHeight: height, outputWidth: width * scale, outputHeight: height * scale, patches: 1 };
}
