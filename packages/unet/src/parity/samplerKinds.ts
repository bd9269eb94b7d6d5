import { type Fixture, type KindOutputs, type ParityKind, type ParityKinds, compileNetwork } from '@stablesr/core';
import { disposeAutoencoderKL, loadAutoencoderKL, parseAutoencoderKLConfig, vaeDecoderNetwork } from '@stablesr/vae';
import * as tf from '@tensorflow/tfjs-core';
import { type UNetConfig, compileUNet, disposeUNet, loadUNet, pickConfig } from '../model/index.js';
import { txt2imgDdimKind } from './txt2imgKind.js';
import {
  type BetaScheduleKind,
  type DiffusionSchedule,
  SCHEDULE_BUFFER_NAMES,
  ddimSchedule,
  getV,
  predictStartFromNoise,
  predictStartFromZAndV,
  qPosterior,
  qSample,
  registerSchedule,
  respaceSchedule,
  spaceTimesteps,
} from '../schedule/index.js';

function num(fx: Fixture, key: string, fallback?: number): number {
  const v = fx.config[key] ?? fallback;
  if (typeof v !== 'number') throw new Error(`${fx.dir}: config "${key}" must be a number, got ${JSON.stringify(v)}`);
  return v;
}

function scheduleArrays(prefix: string, s: DiffusionSchedule, out: KindOutputs): void {
  for (const [name, field] of Object.entries(SCHEDULE_BUFFER_NAMES)) out[`${prefix}.${name}`] = Float32Array.from(s[field]);
}

/** README 7.10: full / respaced / DDIM schedules, `space_timesteps`, and the forward-process helpers. */
const schedule: ParityKind = {
  async run(fx) {
    const cfg = fx.config;
    const full = registerSchedule({
      betaSchedule: (cfg.beta_schedule ?? 'linear') as BetaScheduleKind,
      timesteps: num(fx, 'timesteps', 1000),
      linearStart: num(fx, 'linear_start', 1e-4),
      linearEnd: num(fx, 'linear_end', 2e-2),
      vPosterior: num(fx, 'v_posterior', 0),
      ...(typeof cfg.cosine_s === 'number' ? { cosineS: cfg.cosine_s } : {}),
    });
    const T = full.numTimesteps;
    const out: KindOutputs = {};
    scheduleArrays('full', full, out);

    const respaced = respaceSchedule(full, spaceTimesteps(T, [num(fx, 'ddpm_steps')]), { vPosterior: num(fx, 'v_posterior', 0) });
    scheduleArrays('respaced', respaced, out);
    out['respaced.timestep_map'] = Int32Array.from(respaced.timestepMap);

    const S = num(fx, 'ddim_steps');
    const discretize = (cfg.ddim_discretize ?? 'uniform') as 'uniform' | 'quad';
    // The `schedule` fixture is StableSR's DDIMSampler: no "+1".
    const ddim = ddimSchedule(full, S, num(fx, 'ddim_eta'), { discretize, upstreamPlusOne: false });
    out['ddim.ddim_timesteps'] = Int32Array.from(ddim.ddimTimesteps);
    out['ddim.ddim_alphas'] = Float32Array.from(ddim.alphas);
    out['ddim.ddim_alphas_prev'] = Float32Array.from(ddim.alphasPrev);
    out['ddim.ddim_sigmas'] = Float32Array.from(ddim.sigmas);
    out['ddim.ddim_sqrt_one_minus_alphas'] = Float32Array.from(ddim.sqrtOneMinusAlphas);
    out['ddim.sampling_timesteps'] = Int32Array.from(spaceTimesteps(T, [S]));

    const counts = cfg.space_timesteps_counts;
    if (!Array.isArray(counts)) throw new Error(`${fx.dir}: config "space_timesteps_counts" must be a list`);
    for (const n of counts as number[]) out[`space_timesteps.${n}`] = Int32Array.from(spaceTimesteps(T, [n]));

    const t = Array.from(fx.input('t').dataSync());
    const [x0, xT, noise, v] = ['x0', 'x_t', 'noise', 'v'].map((k) => fx.input(k)) as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
    try {
      out['helpers.q_sample'] = qSample(full, x0, noise, t);
      out['helpers.predict_start_from_noise'] = predictStartFromNoise(full, xT, noise, t);
      out['helpers.get_v'] = getV(full, x0, noise, t);
      out['helpers.predict_start_from_z_and_v'] = predictStartFromZAndV(full, xT, v, t);
      const post = qPosterior(full, x0, xT, t);
      out['helpers.q_posterior.mean'] = post.mean;
      out['helpers.q_posterior.variance'] = post.variance;
      out['helpers.q_posterior.log_variance_clipped'] = post.logVarianceClipped;
    } finally {
      tf.dispose([x0, xT, noise, v]);
    }
    return out;
  },
};

function modelConfig(fx: Fixture): Record<string, unknown> {
  const m = fx.config.model;
  if (!m || typeof m !== 'object') throw new Error(`${fx.dir}: config has no "model" object`);
  return m as Record<string, unknown>;
}

/** README 7.16, with the plain SD-2.x U-Net (weights entry 0) and the first-stage VAE (weights entry 1). */
const txt2imgDdim = txt2imgDdimKind({
  loadUNet(fx, engine) {
    const unet = loadUNet(pickConfig<UNetConfig>(modelConfig(fx), 'unet_config', 'the U-Net'), fx.weights(0));
    const net = compileUNet(unet, engine);
    return {
      forward: (x, t, c) => net.run(x, t, c),
      dispose: () => {
        void net.network.dispose();
        disposeUNet(unet);
      },
    };
  },
  loadDecoder(fx, engine) {
    const model = modelConfig(fx);
    const vae = loadAutoencoderKL(parseAutoencoderKLConfig(pickConfig(model, 'first_stage_config', 'the autoencoder'), `${fx.dir}: first_stage_config`), fx.weights(1), {
      ...(typeof model.scale_factor === 'number' ? { scaleFactor: model.scale_factor } : {}),
    });
    const net = compileNetwork(vaeDecoderNetwork(vae), engine);
    return {
      decode: async (z) => (await net.run([z]))[0] as tf.Tensor4D,
      dispose: () => {
        void net.dispose();
        disposeAutoencoderKL(vae);
      },
    };
  },
});

export const samplerKinds: ParityKinds = { schedule, 'sampler.txt2img-ddim': txt2imgDdim };
