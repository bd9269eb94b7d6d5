import { type EngineInfo, type Fixture, InjectedNoise, type KindOutputs, type ParityKind, nhwcToNchw } from '@stablesr/core';
import * as tf from '@tensorflow/tfjs-core';
import { type ConditionedUNet, generateLatents, guidedDenoiser } from '../generate/index.js';
import { type Parameterization, ddimStep } from '../samplers/index.js';
import { type DiffusionSchedule, ddimSchedule, registerSchedule } from '../schedule/index.js';

/**
 * How the `sampler.txt2img-ddim` kind gets its networks: the U-Net from the fixture's weights entry 0
 * (`model.diffusion_model.`) and the first-stage decoder from entry 1 (`first_stage_model.`). Injected so
 * that sampling code does not depend on the model internals.
 */
export interface Txt2ImgNetworks {
  loadUNet(fx: Fixture, engine: EngineInfo): { forward: ConditionedUNet; dispose(): void };
  /** `decode(z)` of the first-stage autoencoder (z already divided by the scale factor), NHWC. */
  loadDecoder(fx: Fixture, engine: EngineInfo): { decode(z: tf.Tensor4D): tf.Tensor4D | Promise<tf.Tensor4D>; dispose(): void };
}

interface Txt2ImgConfig {
  steps: number;
  eta: number;
  scale: number;
  parameterization: Parameterization;
  H: number;
  W: number;
  f: number;
  C: number;
  B: number;
  scaleFactor: number;
  full: DiffusionSchedule;
}

function readConfig(fx: Fixture): Txt2ImgConfig {
  const c = fx.config;
  const model = (c.model ?? {}) as Record<string, unknown>;
  const n = (v: unknown, name: string): number => {
    if (typeof v !== 'number') throw new Error(`${fx.dir}: config "${name}" must be a number, got ${JSON.stringify(v)}`);
    return v;
  };
  const parameterization = (c.parameterization ?? 'eps') as Parameterization;
  if (parameterization !== 'eps' && parameterization !== 'v') throw new Error(`${fx.dir}: config "parameterization" must be "eps" or "v", got ${JSON.stringify(parameterization)}`);
  return {
    steps: n(c.steps, 'steps'),
    eta: n(c.ddim_eta, 'ddim_eta'),
    scale: n(c.scale, 'scale'),
    parameterization,
    H: n(c.H, 'H'),
    W: n(c.W, 'W'),
    f: n(c.f, 'f'),
    C: n(c.C ?? 4, 'C'),
    B: n(c.n_samples, 'n_samples'),
    scaleFactor: n(model.scale_factor ?? 0.18215, 'model.scale_factor'),
    full: registerSchedule({
      timesteps: n(model.timesteps ?? 1000, 'model.timesteps'),
      linearStart: n(model.linear_start ?? 0.00085, 'model.linear_start'),
      linearEnd: n(model.linear_end ?? 0.012, 'model.linear_end'),
    }),
  };
}

function toNchw(t: tf.Tensor4D): tf.Tensor4D {
  return nhwcToNchw(t);
}

/** Stores an NCHW copy of `t` when the manifest lists `name` (the runner rejects unlisted names). */
function put(fx: Fixture, out: KindOutputs, name: string, t: tf.Tensor4D): void {
  if (fx.manifest.outputs[name] && !(name in out)) out[name] = toNchw(t);
}

function contexts(fx: Fixture, cfg: Txt2ImgConfig): { cond: tf.Tensor3D; uncond?: tf.Tensor3D } {
  const cond = fx.input('context') as tf.Tensor3D;
  const uncond = cfg.scale !== 1 ? (fx.input('uncond_context') as tf.Tensor3D) : undefined;
  return { cond, uncond };
}

interface KindScope {
  cfg: Txt2ImgConfig;
  unet: ReturnType<Txt2ImgNetworks['loadUNet']>;
  dec: ReturnType<Txt2ImgNetworks['loadDecoder']>;
  cond: tf.Tensor3D;
  uncond?: tf.Tensor3D;
  out: KindOutputs;
}

/** Loads the networks and contexts, runs `body`, and releases everything but the outputs (those too on failure). */
async function runKind(fx: Fixture, engine: EngineInfo, nets: Txt2ImgNetworks, body: (s: KindScope) => Promise<void>): Promise<KindOutputs> {
  const cfg = readConfig(fx);
  const unet = nets.loadUNet(fx, engine);
  const dec = nets.loadDecoder(fx, engine);
  const { cond, uncond } = contexts(fx, cfg);
  const out: KindOutputs = {};
  try {
    await body({ cfg, unet, dec, cond, uncond, out });
    return out;
  } catch (e) {
    tf.dispose(Object.values(out).filter((v): v is tf.Tensor => v instanceof tf.Tensor));
    throw e;
  } finally {
    tf.dispose([cond, ...(uncond ? [uncond] : [])]);
    unet.dispose();
    dec.dispose();
  }
}

/** README 7.16: SD-2.x `txt2img.py` DDIM (upstream "+1" timesteps) with classifier-free guidance, then decode. */
export function txt2imgDdimKind(nets: Txt2ImgNetworks): ParityKind {
  return {
    run(fx, env) {
      return runKind(fx, env.engine, nets, async ({ cfg, unet, dec, cond, uncond, out }) => {
        const r = await generateLatents({
          unet: unet.forward,
          context: cond,
          uncondContext: uncond,
          guidanceScale: cfg.scale,
          steps: cfg.steps,
          sampler: 'ddim',
          eta: cfg.eta,
          parameterization: cfg.parameterization,
          width: cfg.W,
          height: cfg.H,
          downsampleFactor: cfg.f,
          latentChannels: cfg.C,
          batchSize: cfg.B,
          schedule: cfg.full,
          scaleFactor: cfg.scaleFactor,
          noise: fx.noise(),
          decode: (z) => dec.decode(z),
          onStep: (e) => {
            put(fx, out, `x.step${e.k}`, e.x);
            put(fx, out, `pred_x0.step${e.k}`, e.predX0);
          },
          onModelOutput: (raw, at) => put(fx, out, `model_out.step${at.k}`, raw),
        });
        out.samples = toNchw(r.latents);
        out.decoded = toNchw(r.decoded!);
        out.output = toNchw(r.image!);
        tf.dispose([r.latents, r.decoded!, r.image!]);
      });
    },

    /** Teacher-forced: step k from the stored x.step<k−1> (step 0 from noise.0) with that step's recorded noise; decode the stored samples. */
    stepwise(fx, env) {
      const specs = fx.manifest.noise ?? [];
      return runKind(fx, env.engine, nets, async ({ cfg, unet, dec, cond, uncond, out }) => {
        const d = ddimSchedule(cfg.full, cfg.steps, cfg.eta, { discretize: 'uniform', upstreamPlusOne: true });
        const arrays = { ...d, timesteps: d.ddimTimesteps };
        const denoise = guidedDenoiser(unet.forward, cond, uncond, cfg.scale, (raw, at) => put(fx, out, `model_out.step${at.k}`, raw));
        const xTSpec = specs.find((s) => s.use === 'x_T');
        if (!xTSpec) throw new Error(`${fx.dir}: manifest has no x_T noise entry`);
        for (let k = 0; k < arrays.timesteps.length; k++) {
          const stepSpec = specs.find((s) => s.use === 'step' && s.step === k);
          if (!stepSpec) throw new Error(`${fx.dir}: manifest has no step noise for step ${k}`);
          const x = (k === 0 ? tf.transpose(fx.tensorByKey(xTSpec.key), [0, 2, 3, 1]) : fx.expectedNhwc(`x.step${k - 1}`)) as tf.Tensor4D;
          const z = tf.transpose(fx.tensorByKey(stepSpec.key), [0, 2, 3, 1]);
          try {
            const r = await ddimStep(denoise, x, k, arrays, { parameterization: cfg.parameterization, noise: new InjectedNoise([z], ['step']), vX0: 'direct' });
            put(fx, out, `x.step${k}`, r.x);
            put(fx, out, `pred_x0.step${k}`, r.predX0);
            tf.dispose([r.x, r.predX0, r.modelOut]);
          } finally {
            tf.dispose([x, z]);
          }
        }
        const samples = fx.expectedNhwc('samples') as tf.Tensor4D;
        const zIn = tf.div(samples, cfg.scaleFactor) as tf.Tensor4D;
        samples.dispose();
        try {
          const decoded = await dec.decode(zIn);
          out.decoded = toNchw(decoded);
          const image = tf.tidy(() => tf.clipByValue(tf.div(tf.add(decoded, 1), 2), 0, 1)) as tf.Tensor4D;
          out.output = toNchw(image);
          tf.dispose([decoded, image]);
        } finally {
          zIn.dispose();
        }
      });
    },
  };
}
