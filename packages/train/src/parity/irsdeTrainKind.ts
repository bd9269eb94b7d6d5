import * as tf from '@tensorflow/tfjs-core';
import { type Fixture, type KindOutputs, type ParityKinds, nhwcToNchw, resizeBicubic, tfjsOps } from '@stablesr/core';
import {
  type ConditionalUNetConfig,
  type IRSDEConfig,
  type MatchingLossType,
  type ThetaScheduleName,
  compileConditionalUNet,
  conditionalUNetForward,
  disposeConditionalUNet,
  irsdeSchedule,
  loadConditionalUNet,
  sinusoidalPosEmb,
} from '@stablesr/irsde';
import { type WeightView } from '@stablesr/core';
import { type AdamOptions, ADAM_INITIAL_STATE, adamStep, disposeAdamState } from '../adam.js';
import { withTrainingBackend } from '../trainingBackend.js';
import { type IRSDENoiseForward, irsdeLoss, irsdeTrainingState } from '../irsdeObjective.js';
import { lossAndGradients } from '../lossGradients.js';
import { type Parameters, disposeParameters, readParameters, tensorWeightView } from '../tensorWeightView.js';
import { collectOutputs, fixtureInts } from '@stablesr/core';

/** The fixture's `ConditionalUNet` constructor arguments (`in_nc`, `out_nc` default 3; `nf`; `depth`). */
function unetConfig(fx: Fixture): ConditionalUNetConfig {
  const c = fx.config;
  if (typeof c.nf !== 'number') throw new Error(`${fx.dir}: config.nf must be a number`);
  const config: ConditionalUNetConfig = { in_nc: Number(c.in_nc ?? 3), out_nc: Number(c.out_nc ?? 3), nf: c.nf };
  if (c.depth !== undefined) config.depth = Number(c.depth);
  return config;
}

/** The `torch.optim.Adam` options of the fixture's `optimizer` entry (type Adam only). */
function adamOptions(fx: Fixture): AdamOptions {
  const o = (fx.config.optimizer ?? {}) as { type?: string; lr?: number; betas?: [number, number]; weight_decay?: number; eps?: number };
  if (o.type !== undefined && o.type !== 'Adam') throw new Error(`${fx.dir}: optimizer ${o.type} is not implemented here (Adam only)`);
  return { lr: o.lr ?? 1e-3, betas: o.betas ?? [0.9, 0.999], eps: o.eps ?? 1e-8, weightDecay: o.weight_decay ?? 0 };
}

/** The network forward over `params` (a differentiable module load, {@link tensorWeightView}). */
function networkOf(config: ConditionalUNetConfig, params: Parameters, origin: string): IRSDENoiseForward {
  const unet = loadConditionalUNet(config, tensorWeightView(params, origin) as WeightView);
  return (xt, mu, t) => tf.tidy(() => conditionalUNetForward(tfjsOps, unet, xt, mu, sinusoidalPosEmb(t, unet.config.nf)));
}

/**
 * Kind `irsde.train-step` (README 7.18): the official trainer's step (`train.py` + `optimize_parameters`): μ =
 * bicubic ×`scale` of `lq`, `x_t` from the recorded timesteps and state noise, the network's noise, the ML loss,
 * `grad.<key>` of every parameter, one `torch.optim.Adam` step (`delta.<key>`) and `loss_after` on the same batch.
 * `network_noise` is the network compiled for the engine; loss, gradients and the step are eager tfjs on the training
 * backend ({@link withTrainingBackend}) for every engine (autodiff needs it).
 */
export const irsdeTrainKinds: ParityKinds = {
  'irsde.train-step': {
    run: (fx, env) =>
      withTrainingBackend(() =>
        collectOutputs(async (outs: KindOutputs) => {
          const c = fx.config;
          const sc: IRSDEConfig = { max_sigma: Number(c.max_sigma) };
          if (c.T !== undefined) sc.T = Number(c.T);
          if (c.schedule !== undefined) sc.schedule = c.schedule as ThetaScheduleName;
          if (c.eps !== undefined) sc.eps = Number(c.eps);
          const s = irsdeSchedule(sc);
          const scale = Number(c.scale ?? 4);
          const lossType = String(c.loss_type ?? 'l1') as MatchingLossType;
          const config = unetConfig(fx);
          const view = fx.weights(0);
          const params = readParameters(view);
          const gt = fx.inputNhwc('gt') as tf.Tensor4D;
          const lq = fx.inputNhwc('lq') as tf.Tensor4D;
          const t = fixtureInts(fx, 't');
          const mu = resizeBicubic(lq, lq.shape[1] * scale, lq.shape[2] * scale);
          const noise = fx.noise().draw(gt.shape, 'x_T');
          const xt = irsdeTrainingState(s, gt, mu, noise, t) as tf.Tensor4D;
          let adam: ReturnType<typeof adamStep> | undefined;
          try {
            outs.mu = nhwcToNchw(mu);
            outs.xt = nhwcToNchw(xt);
            const unet = loadConditionalUNet(config, view);
            try {
              const net = compileConditionalUNet(unet, env.engine);
              const out = await net.run(xt, mu, t).finally(() => net.network.dispose());
              outs.network_noise = nhwcToNchw(out);
              out.dispose();
            } finally {
              disposeConditionalUNet(unet);
            }
            const { loss, grads } = lossAndGradients(params, (p) => irsdeLoss(s, networkOf(config, p, fx.dir), xt, gt, mu, t, lossType));
            outs.loss = tf.reshape(loss, [1]);
            loss.dispose();
            for (const [k, g] of grads) outs[`grad.${view.prefix}${k}`] = g;
            adam = adamStep(params, grads, ADAM_INITIAL_STATE, adamOptions(fx));
            for (const [k, p] of adam.params) outs[`delta.${view.prefix}${k}`] = tf.sub(p, params.get(k)!);
            const after = adam.params;
            outs.loss_after = tf.tidy(() => tf.reshape(irsdeLoss(s, networkOf(config, after, fx.dir), xt, gt, mu, t, lossType), [1]));
          } finally {
            tf.dispose([gt, lq, mu, noise, xt]);
            disposeParameters(params);
            if (adam) {
              disposeParameters(adam.params);
              disposeAdamState(adam.state);
            }
          }
        }),
      ),
  },
};
