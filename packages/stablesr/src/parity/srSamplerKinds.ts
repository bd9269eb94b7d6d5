import * as tf from '@tensorflow/tfjs-core';
import { type Fixture, InjectedNoise, type KindOutputs, type NoiseSource, type ParityKind, type ParityKinds, type ParityEnv } from '@stablesr/core';
import { type SamplerStepEvent, ddimStep, ddpmStep, sampleDdim, sampleDdpm } from '@stablesr/unet';
import { adainColorFix } from '../adain.js';
import { type Conditioning, windowEvaluator } from '../guidedDenoiser.js';
import { type CanvasGeometry, canvasGeometry, postprocessCanvas, preprocessCanvas, preprocessCenterCrop, toUnitRange } from '../preprocess.js';
import { type SRModels, disposePosterior } from '../srModels.js';
import { type SamplerSchedules, buildSchedules, noisedLatent, sampleLatent, srDenoiser } from '../srPipeline.js';
import { waveletColorFix } from '../waveletColorFix.js';

/** Builds the SR networks of a sampler fixture (weights entry 0: the StableSR checkpoint, 1: CFW). */
export type FixtureModelsLoader = (fx: Fixture, env: ParityEnv) => Promise<{ models: SRModels; dispose(): void }>;

const nchw = (t: tf.Tensor4D): tf.Tensor4D => tf.transpose(t, [0, 3, 1, 2]);

interface Flavour {
  sampler: 'ddpm' | 'ddim';
  tiled: boolean;
}

function cfgOf(fx: Fixture): Record<string, unknown> {
  return fx.config;
}

function schedulesOf(fx: Fixture, f: Flavour): SamplerSchedules {
  const model = cfgOf(fx).model as Record<string, number>;
  const c = cfgOf(fx) as Record<string, number>;
  const steps = f.sampler === 'ddpm' ? c.ddpm_steps! : c.ddim_steps!;
  return buildSchedules({ linearStart: model.linear_start!, linearEnd: model.linear_end!, timesteps: model.timesteps! }, f.sampler, steps, c.ddim_eta ?? 0);
}

function conditioning(fx: Fixture): Conditioning {
  const c = cfgOf(fx) as Record<string, unknown>;
  const context = fx.input('context') as tf.Tensor3D;
  if (!fx.hasInput('uncond_context')) return { context };
  return { context, uncondContext: fx.input('uncond_context') as tf.Tensor3D, guidanceScale: c.unconditional_guidance_scale as number };
}

function disposeCond(c: Conditioning): void {
  tf.dispose([c.context, ...(c.uncondContext ? [c.uncondContext] : [])]);
}

/** Decode, colour fixes and outputs shared by every sampler kind (README 7.12 steps 7–8, 7.13 step 7). */
async function finish(models: SRModels, out: KindOutputs, samples: tf.Tensor4D, encFea: readonly tf.Tensor4D[], image: tf.Tensor4D, decW: number, geometry?: CanvasGeometry): Promise<void> {
  const z = tf.div(samples, models.scaleFactor) as tf.Tensor4D;
  const decoded = await models.cfw!.decode(z, encFea, decW);
  z.dispose();
  const adain = adainColorFix(decoded, image);
  const wavelet = waveletColorFix(decoded, image);
  out.decoded = nchw(decoded);
  out['colorfix.adain'] = nchw(adain);
  out['colorfix.wavelet'] = nchw(wavelet);
  const post = (x: tf.Tensor4D) => tf.tidy(() => nchw(geometry ? postprocessCanvas(x, geometry) : toUnitRange(x)));
  out['output.nofix'] = post(decoded);
  out['output.adain'] = post(adain);
  out['output.wavelet'] = post(wavelet);
  tf.dispose([decoded, adain, wavelet]);
}

function tiling(fx: Fixture, f: Flavour): { tileSize: number; tileOverlap: number } {
  const c = cfgOf(fx) as Record<string, number>;
  // Non-tiled kinds evaluate the whole latent: a tile larger than any latent.
  return f.tiled ? { tileSize: c.tile_size!, tileOverlap: c.tile_overlap! } : { tileSize: Number.MAX_SAFE_INTEGER, tileOverlap: 0 };
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
    disposeCond(cond);
    dispose();
  }
}

/**
 * Records step k: the latent, DDIM's pred_x0 and, for the untiled kinds, the step's raw model outputs
 * (`raws`, one per evaluation, concatenated along the batch). `raws` is emptied and released.
 */
function recordStep(out: KindOutputs, f: Flavour, k: number, x: tf.Tensor4D, predX0: tf.Tensor4D, raws: tf.Tensor4D[]): void {
  out[`x.step${k}`] = nchw(x);
  if (f.sampler === 'ddim') out[`pred_x0.step${k}`] = nchw(predX0);
  if (!f.tiled) out[`model_out.step${k}`] = tf.tidy(() => nchw(tf.concat(raws, 0)));
  tf.dispose(raws.splice(0));
}

/** Free-running: the reference script end to end with the recorded noise injected in order. */
function runFree(fx: Fixture, f: Flavour, load: (fx: Fixture) => ReturnType<FixtureModelsLoader>): Promise<KindOutputs> {
  const c = cfgOf(fx) as Record<string, number> & { parameterization: 'eps' | 'v' };
  return runKind(fx, load, async ({ models, cond, out, keep }) => {
    const noise = fx.noise();
    const sched = schedulesOf(fx, f);
    const lr = fx.inputNhwc('lr') as tf.Tensor4D;
    keep.push(lr);
    let image: tf.Tensor4D;
    let geometry: CanvasGeometry | undefined;
    if (f.tiled) {
      ({ image, geometry } = preprocessCanvas(lr, c.input_size!, c.upscale!));
    } else {
      image = preprocessCenterCrop(lr, c.input_size!, { clamp: f.sampler === 'ddpm' });
    }
    keep.push(image);
    out.image_preprocessed = nchw(image);

    // Encoding: the plain scripts take init_latent and enc_fea from the CFW encoder; the canvas scripts take
    // init_latent from the first-stage VAE and enc_fea from a second (noise-free) CFW encode.
    let initLatent: tf.Tensor4D;
    let encFea: tf.Tensor4D[];
    if (!f.tiled) {
      const e = await models.cfw!.encode(image);
      initLatent = sampleLatent(e.posterior, models.scaleFactor, noise);
      disposePosterior(e.posterior);
      encFea = e.encFea;
    } else {
      const p = await models.encodeFirstStage(image);
      initLatent = sampleLatent(p, models.scaleFactor, noise);
      disposePosterior(p);
      const e = await models.cfw!.encode(image);
      disposePosterior(e.posterior);
      encFea = e.encFea;
    }
    keep.push(initLatent, ...encFea);
    out.init_latent = nchw(initLatent);
    encFea.forEach((t, i) => (out[`enc_fea.${i}`] = nchw(t)));

    // x_T as each script builds it (README 7.12 steps 4–5, 7.13 step 4, 7.14 step 4, 7.15 step 2).
    const full = sched.full;
    let xT: tf.Tensor4D;
    const useNoised = (f.sampler === 'ddpm' && f.tiled) || (f.sampler === 'ddim' && !f.tiled);
    if (useNoised) {
      const z = noise.draw(initLatent.shape, 'x_T');
      xT = noisedLatent(full, initLatent, z);
      z.dispose();
      out.x_T = nchw(xT);
    } else {
      const z = noise.draw(initLatent.shape, 'discarded');
      out.x_T_discarded = nchw(noisedLatent(full, initLatent, z));
      z.dispose();
      const side = c.model_image_size ? c.model_image_size / models.downsampling : undefined;
      const shape = f.sampler === 'ddpm' && side ? [initLatent.shape[0], side, side, initLatent.shape[3]] : initLatent.shape;
      xT = noise.draw(shape, 'x_T') as tf.Tensor4D;
    }
    keep.push(xT);

    const raws: tf.Tensor4D[] = [];
    const evaluate = windowEvaluator(models, cond, (raw) => raws.push(raw.clone()));
    const denoise = srDenoiser(evaluate, initLatent, tiling(fx, f));
    const onStep = (e: SamplerStepEvent) => recordStep(out, f, e.k, e.x, e.predX0, raws);
    const opts = { noise, parameterization: c.parameterization, onStep };
    const samples = f.sampler === 'ddpm' ? await sampleDdpm(denoise, xT, sched.ddpm!, opts) : await sampleDdim(denoise, xT, sched.ddim!, { ...opts, vX0: 'viaEps' });
    keep.push(samples);
    out.samples = nchw(samples);
    await finish(models, out, samples, encFea, image, c.dec_w!, geometry);
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

/** Teacher-forced: every step from the stored previous latent; decode from the stored samples (README 5). */
function runStepwise(fx: Fixture, f: Flavour, load: (fx: Fixture) => ReturnType<FixtureModelsLoader>): Promise<KindOutputs> {
  const c = cfgOf(fx) as Record<string, number> & { parameterization: 'eps' | 'v' };
  return runKind(fx, load, async ({ models, cond, out, keep }) => {
    const sched = schedulesOf(fx, f);
    const initLatent = fx.expectedNhwc('init_latent') as tf.Tensor4D;
    keep.push(initLatent);
    const raws: tf.Tensor4D[] = [];
    const evaluate = windowEvaluator(models, cond, (raw) => raws.push(raw.clone()));
    const denoise = srDenoiser(evaluate, initLatent, tiling(fx, f));
    const steps = f.sampler === 'ddpm' ? sched.ddpm!.numTimesteps : sched.ddim!.timesteps.length;
    // Index of the first per-step draw and of the stored starting latent (README 7.12–7.15 noise orders).
    const stepNoise0 = (fx.manifest.noise ?? []).findIndex((n) => n.use === 'step');
    const start = f.sampler === 'ddim' && !f.tiled ? 'x_T' : f.sampler === 'ddpm' && f.tiled ? 'x_T' : undefined;
    for (let k = 0; k < steps; k++) {
      let x: tf.Tensor4D;
      if (k > 0) x = fx.expectedNhwc(`x.step${k - 1}`) as tf.Tensor4D;
      else if (start) x = fx.expectedNhwc(start) as tf.Tensor4D;
      else {
        const i = (fx.manifest.noise ?? []).findIndex((n) => n.use === 'x_T');
        const s = fx.manifest.noise![i]!.shape; // NCHW
        x = drawAt(fx, i).draw([s[0]!, s[2]!, s[3]!, s[1]!], 'x_T') as tf.Tensor4D;
      }
      const noise = drawAt(fx, stepNoise0 + k);
      const opts = { noise, parameterization: c.parameterization };
      const r = f.sampler === 'ddpm' ? await ddpmStep(denoise, x, k, sched.ddpm!, opts) : await ddimStep(denoise, x, k, sched.ddim!, { ...opts, vX0: 'viaEps' });
      x.dispose();
      recordStep(out, f, k, r.x, r.predX0, raws);
      tf.dispose([r.x, r.predX0, r.modelOut]);
    }
    const samples = fx.expectedNhwc('samples') as tf.Tensor4D;
    const image = fx.expectedNhwc('image_preprocessed') as tf.Tensor4D;
    const encFea = Object.keys(fx.manifest.outputs).filter((k) => k.startsWith('enc_fea.')).sort().map((k) => fx.expectedNhwc(k) as tf.Tensor4D);
    keep.push(samples, image, ...encFea);
    let geometry: CanvasGeometry | undefined;
    if (f.tiled) {
      const lrShape = fx.manifest.inputs.lr as { shape: number[] };
      geometry = canvasGeometry(lrShape.shape[2]!, lrShape.shape[3]!, c.input_size!, c.upscale!);
    }
    await finish(models, out, samples, encFea, image, c.dec_w!, geometry);
  });
}

function kind(f: Flavour, load: FixtureModelsLoader): ParityKind {
  return { run: (fx, env) => runFree(fx, f, (x) => load(x, env)), stepwise: (fx, env) => runStepwise(fx, f, (x) => load(x, env)) };
}

/** The four StableSR sampler kinds (README 7.12–7.15) over a model loader. */
export function makeSrSamplerKinds(load: FixtureModelsLoader): ParityKinds {
  return {
    'sampler.ddpm-sr': kind({ sampler: 'ddpm', tiled: false }, load),
    'sampler.ddpm-sr-tiled': kind({ sampler: 'ddpm', tiled: true }, load),
    'sampler.ddim': kind({ sampler: 'ddim', tiled: false }, load),
    'sampler.ddim-tiled': kind({ sampler: 'ddim', tiled: true }, load),
  };
}
