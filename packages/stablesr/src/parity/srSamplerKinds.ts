import * as tf from '@tensorflow/tfjs-core';
import { DEFAULT_PATCH_SIZE, DEFAULT_PATCH_STRIDE, type Fixture, InjectedNoise, type KindOutputs, type NoiseSource, type ParityKind, type ParityKinds, type ParityEnv } from '@stablesr/core';
import { type SamplerStepEvent, ddimStep, ddpmStep } from '@stablesr/unet';
import { type ColorFixKind, applyColorFix } from '../colorFix.js';
import { type Conditioning, windowEvaluator } from '../guidedDenoiser.js';
import { type SRModels } from '../srModels.js';
import { type ScheduleParams, type SamplingParams, type SuperResolveRun, buildSchedules, decodeLatent, planFor, postprocessOutput, srDenoiser, superResolve } from '../srPipeline.js';
import { type SRPlan } from '../srPlan.js';
import { SR_RECIPES, type SRRecipe } from '../srRecipe.js';

// The four StableSR sampler kinds run the shipped pipeline (`superResolve` with the script's recipe) and read
// its intermediates through the pipeline's trace; this file only maps the manifest's config onto the pipeline's
// options and the pipeline's tensors onto the manifest's outputs.

/** Builds the SR networks of a sampler fixture (weights entry 0: the StableSR checkpoint, 1: CFW). */
export type FixtureModelsLoader = (fx: Fixture, env: ParityEnv) => Promise<{ models: SRModels; dispose(): void }>;

const nchw = (t: tf.Tensor4D): tf.Tensor4D => tf.transpose(t, [0, 3, 1, 2]);

type FixtureConfig = Record<string, number> & { parameterization: 'eps' | 'v'; model: Record<string, number> };

const cfgOf = (fx: Fixture) => fx.config as FixtureConfig;

function scheduleOf(fx: Fixture): ScheduleParams {
  const m = cfgOf(fx).model;
  return { linearStart: m.linear_start!, linearEnd: m.linear_end!, timesteps: m.timesteps! };
}

/** The pipeline's sampling parameters as the fixture's script ran them. */
function samplingOf(fx: Fixture, recipe: SRRecipe): SamplingParams {
  const c = cfgOf(fx);
  return {
    sampler: recipe.sampler,
    steps: recipe.sampler === 'ddpm' ? c.ddpm_steps! : c.ddim_steps!,
    eta: c.ddim_eta ?? 0,
    parameterization: c.parameterization,
    // The plain recipes never tile; the plan ignores these for them.
    tileSize: c.tile_size ?? 1,
    tileOverlap: c.tile_overlap ?? 0,
  };
}

function runOf(fx: Fixture, recipe: SRRecipe): SuperResolveRun {
  const c = cfgOf(fx);
  const patchSize = c.vqgantile_size ?? DEFAULT_PATCH_SIZE;
  return { recipe, upscale: c.upscale ?? 1, inputSize: c.input_size!, patchSize, patchStride: c.vqgantile_stride ?? Math.min(DEFAULT_PATCH_STRIDE, patchSize) };
}

function conditioning(fx: Fixture): Conditioning {
  const context = fx.input('context') as tf.Tensor3D;
  if (!fx.hasInput('uncond_context')) return { context };
  return { context, uncondContext: fx.input('uncond_context') as tf.Tensor3D, guidanceScale: cfgOf(fx).unconditional_guidance_scale! };
}

/** What a kind's body works with; `keep` holds intermediate tensors released when the kind ends. */
interface KindScope {
  models: SRModels;
  cond: Conditioning;
  out: KindOutputs;
  keep: tf.Tensor[];
}

/** Loads the models and conditioning, runs `body`, and releases everything but the outputs (those too on failure). */
async function runKind(fx: Fixture, load: (fx: Fixture) => ReturnType<FixtureModelsLoader>, body: (s: KindScope) => Promise<void>): Promise<KindOutputs> {
  const { models, dispose } = await load(fx);
  const cond = conditioning(fx);
  const out: KindOutputs = {};
  const keep: tf.Tensor[] = [];
  try {
    await body({ models, cond, out, keep });
    return out;
  } catch (e) {
    tf.dispose(Object.values(out).filter((v): v is tf.Tensor => v instanceof tf.Tensor));
    throw e;
  } finally {
    tf.dispose(keep);
    tf.dispose([cond.context, ...(cond.uncondContext ? [cond.uncondContext] : [])]);
    dispose();
  }
}

/**
 * Records step k: the latent, DDIM's pred_x0 and, for the untiled recipes, the step's raw model outputs
 * (`raws`, one per evaluation, concatenated along the batch). `raws` is emptied and released.
 */
function recordStep(out: KindOutputs, recipe: SRRecipe, k: number, x: tf.Tensor4D, predX0: tf.Tensor4D, raws: tf.Tensor4D[]): void {
  out[`x.step${k}`] = nchw(x);
  if (recipe.sampler === 'ddim') out[`pred_x0.step${k}`] = nchw(predX0);
  if (!recipe.latentTiles) out[`model_out.step${k}`] = tf.tidy(() => nchw(tf.concat(raws, 0)));
  tf.dispose(raws.splice(0));
}

/** The colour fixes the pipeline did not run, from its decoded image, with the pipeline's own colour fix and post-processing. */
function otherColorFixes(out: KindOutputs, plan: Pick<SRPlan, 'geometry'>, decoded: tf.Tensor4D, image: tf.Tensor4D, ran: ColorFixKind): void {
  for (const fix of ['none', 'adain', 'wavelet'] as const) {
    if (fix === ran) continue;
    const fixed = applyColorFix(fix, decoded, image);
    if (fix !== 'none') out[`colorfix.${fix}`] = nchw(fixed);
    out[`output.${fix === 'none' ? 'nofix' : fix}`] = tf.tidy(() => nchw(postprocessOutput(plan, fixed)));
    fixed.dispose();
  }
}

/** Free-running: the shipped pipeline end to end with the recorded noise injected in order. */
function runFree(fx: Fixture, recipe: SRRecipe, load: (fx: Fixture) => ReturnType<FixtureModelsLoader>): Promise<KindOutputs> {
  return runKind(fx, load, async ({ models, cond, out, keep }) => {
    const lr = fx.inputNhwc('lr') as tf.Tensor4D;
    keep.push(lr);
    const ran: ColorFixKind = 'wavelet';
    const seen = new Map<string, tf.Tensor4D>();
    const trace = (name: string, t: tf.Tensor4D) => {
      const key = name === 'colorfixed' ? `colorfix.${ran}` : name;
      if (name === 'decoded' || name === 'image_preprocessed') seen.set(name, t.clone());
      if (fx.manifest.outputs[key]) out[key] = nchw(t);
    };
    const raws: tf.Tensor4D[] = [];
    const { image, plan } = await superResolve(models, lr, cond, samplingOf(fx, recipe), {
      ...runOf(fx, recipe),
      schedule: scheduleOf(fx),
      noise: fx.noise(),
      fidelity: cfgOf(fx).dec_w!,
      colorFix: ran,
      trace,
      onStep: (e: SamplerStepEvent) => recordStep(out, recipe, e.k, e.x, e.predX0, raws),
      ...(recipe.latentTiles ? {} : { onModelOutput: (raw: tf.Tensor4D) => raws.push(raw.clone()) }),
    });
    keep.push(...seen.values());
    out[`output.${ran}`] = tf.tidy(() => nchw(image));
    image.dispose();
    otherColorFixes(out, plan, seen.get('decoded')!, seen.get('image_preprocessed')!, ran);
  });
}

/** The recorded draw with index `i`, as a one-draw source. */
function drawAt(fx: Fixture, i: number): NoiseSource {
  const spec = fx.manifest.noise?.[i];
  if (!spec) throw new Error(`${fx.dir}: no noise.${i}`);
  const t = fx.tensorByKey(spec.key);
  const nhwc = tf.transpose(t, [0, 2, 3, 1]);
  t.dispose();
  const src = new InjectedNoise([nhwc], [spec.use]);
  return { draw: (shape, use) => { try { return src.draw(shape, use); } finally { nhwc.dispose(); } } };
}

/**
 * Teacher-forced: every step from the stored previous latent through the shipped denoiser and sampler steps,
 * with the tile the pipeline's plan chooses; step 0 from the recipe's x_T (stored when `noised`, the recorded
 * draw when `noise`). Decode from the stored samples and features with the pipeline's decoder, colour fixes and post-processing.
 */
function runStepwise(fx: Fixture, recipe: SRRecipe, load: (fx: Fixture) => ReturnType<FixtureModelsLoader>): Promise<KindOutputs> {
  return runKind(fx, load, async ({ models, cond, out, keep }) => {
    const p = samplingOf(fx, recipe);
    const lrShape = (fx.manifest.inputs.lr as { shape: number[] }).shape; // NCHW
    const plan = planFor(models, lrShape[2]!, lrShape[3]!, p, runOf(fx, recipe));
    const sched = buildSchedules(scheduleOf(fx), p.sampler, p.steps, p.eta);
    const initLatent = fx.expectedNhwc('init_latent') as tf.Tensor4D;
    keep.push(initLatent);
    const raws: tf.Tensor4D[] = [];
    const evaluate = windowEvaluator(models, cond, recipe.latentTiles ? undefined : (raw) => raws.push(raw.clone()));
    const denoise = srDenoiser(evaluate, initLatent, plan);
    const noises = fx.manifest.noise ?? [];
    const stepNoise0 = noises.findIndex((n) => n.use === 'step');
    for (let k = 0; k < p.steps; k++) {
      let x: tf.Tensor4D;
      if (k > 0) x = fx.expectedNhwc(`x.step${k - 1}`) as tf.Tensor4D;
      else if (recipe.xT === 'noised') x = fx.expectedNhwc('x_T') as tf.Tensor4D;
      else {
        const i = noises.findIndex((n) => n.use === 'x_T');
        const s = noises[i]!.shape; // NCHW
        x = drawAt(fx, i).draw([s[0]!, s[2]!, s[3]!, s[1]!], 'x_T') as tf.Tensor4D;
      }
      const opts = { noise: drawAt(fx, stepNoise0 + k), parameterization: p.parameterization };
      const r = p.sampler === 'ddpm' ? await ddpmStep(denoise, x, k, sched.ddpm!, opts) : await ddimStep(denoise, x, k, sched.ddim!, { ...opts, vX0: 'viaEps' });
      x.dispose();
      recordStep(out, recipe, k, r.x, r.predX0, raws);
      tf.dispose([r.x, r.predX0, r.modelOut]);
    }
    const samples = fx.expectedNhwc('samples') as tf.Tensor4D;
    const image = fx.expectedNhwc('image_preprocessed') as tf.Tensor4D;
    const encFea = Object.keys(fx.manifest.outputs).filter((k) => k.startsWith('enc_fea.')).sort().map((k) => fx.expectedNhwc(k) as tf.Tensor4D);
    keep.push(samples, image, ...encFea);
    const decoded = await decodeLatent(models, samples, encFea, cfgOf(fx).dec_w!);
    keep.push(decoded);
    out.decoded = nchw(decoded);
    otherColorFixes(out, plan, decoded, image, 'none');
    out['output.nofix'] = tf.tidy(() => nchw(postprocessOutput(plan, decoded)));
  });
}

function kind(recipe: SRRecipe, load: FixtureModelsLoader): ParityKind {
  return { run: (fx, env) => runFree(fx, recipe, (x) => load(x, env)), stepwise: (fx, env) => runStepwise(fx, recipe, (x) => load(x, env)) };
}

/** The four StableSR sampler kinds (README 7.12–7.15), one per recipe of the pipeline, over a model loader. */
export function makeSrSamplerKinds(load: FixtureModelsLoader): ParityKinds {
  return {
    'sampler.ddpm-sr': kind(SR_RECIPES['ddpm-crop'], load),
    'sampler.ddpm-sr-tiled': kind(SR_RECIPES['ddpm-canvas'], load),
    'sampler.ddim': kind(SR_RECIPES['ddim-crop'], load),
    'sampler.ddim-tiled': kind(SR_RECIPES['ddim-canvas'], load),
  };
}
