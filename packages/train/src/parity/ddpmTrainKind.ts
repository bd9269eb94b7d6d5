import * as tf from '@tensorflow/tfjs-core';
import { type KindOutputs, type ParityKinds, nhwcToNchw, tfjsOps } from '@stablesr/core';
import { type UNetConfig, batchTimestepEmbedding, loadUNet, pickConfig, qSample, registerSchedule, unetForwardOps } from '@stablesr/unet';
import { withTrainingBackend } from '../trainingBackend.js';
import { type DdpmParameterization, ddpmLoss } from '../ddpmObjective.js';
import { lossAndGradients } from '../lossGradients.js';
import { disposeParameters, readParameters, tensorWeightView } from '../tensorWeightView.js';
import { collectOutputs, fixtureInts } from '@stablesr/core';

/**
 * Kind `train.ddpm-eps` (README 7.17): one DDPM training step (Algorithm 1, `LatentDiffusion.p_losses` then
 * `loss.backward()`) on the SD-2.x U-Net: `x_noisy`, `loss`, and `grad.<checkpoint key>` of every U-Net parameter.
 * Everything is eager tfjs on the training backend ({@link withTrainingBackend}) whatever the engine (autodiff needs
 * it; `x_noisy` is not a network output), so both engines check the same computation.
 */
export const ddpmTrainKinds: ParityKinds = {
  'train.ddpm-eps': {
    run: (fx) =>
      withTrainingBackend(() =>
        collectOutputs(async (outs: KindOutputs) => {
          const c = fx.config;
          const config = pickConfig<UNetConfig>(c, 'unet_config', fx.dir);
          const s = registerSchedule({ timesteps: Number(c.timesteps ?? 1000), linearStart: Number(c.linear_start ?? 0.00085), linearEnd: Number(c.linear_end ?? 0.012) });
          const parameterization = String(c.parameterization ?? 'eps') as DdpmParameterization;
          if (c.loss_type !== undefined && c.loss_type !== 'l2') throw new Error(`${fx.dir}: loss_type ${String(c.loss_type)} is not implemented (l2 only)`);
          const view = fx.weights(0);
          const params = readParameters(view);
          const x0 = fx.inputNhwc('x_start');
          const noise = fx.inputNhwc('noise');
          const context = fx.input('context');
          const t = fixtureInts(fx, 't');
          try {
            outs.x_noisy = tf.tidy(() => nhwcToNchw(qSample(s, x0, noise, t) as tf.Tensor4D));
            const { loss, grads } = lossAndGradients(params, (p) => {
              const unet = loadUNet(config, tensorWeightView(p, fx.dir));
              const model = (xn: tf.Tensor, ts: readonly number[]): tf.Tensor => {
                const tEmb = batchTimestepEmbedding(ts, xn.shape[0]!, unet.time_embed.modelChannels, 'U-Net');
                return unetForwardOps(tfjsOps, unet, xn, tEmb, context);
              };
              return ddpmLoss(s, model, x0, noise, t, parameterization);
            });
            outs.loss = tf.reshape(loss, [1]);
            loss.dispose();
            for (const [k, g] of grads) outs[`grad.${view.prefix}${k}`] = g;
          } finally {
            tf.dispose([x0, noise, context]);
            disposeParameters(params);
          }
        }),
      ),
  },
};
