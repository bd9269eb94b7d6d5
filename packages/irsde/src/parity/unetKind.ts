import * as tf from '@tensorflow/tfjs-core';
import { type Fixture, type ParityKinds, nhwcToNchw } from '@stablesr/core';
import { type ConditionalUNet, type ConditionalUNetConfig, disposeConditionalUNet, loadConditionalUNet } from '../conditionalUNet.js';
import { compileConditionalUNet } from '../conditionalUNetNetwork.js';
import { fixtureInts } from '@stablesr/core';

/** The `ConditionalUNet` of a fixture: config fields `in_nc` (default 3), `out_nc` (default 3), `nf`, `depth`. */
export function fixtureConditionalUNet(fx: Fixture): ConditionalUNet {
  const c = fx.config;
  if (typeof c.nf !== 'number') throw new Error(`${fx.dir}: config.nf must be a number`);
  const config: ConditionalUNetConfig = { in_nc: Number(c.in_nc ?? 3), out_nc: Number(c.out_nc ?? 3), nf: c.nf };
  if (c.depth !== undefined) config.depth = Number(c.depth);
  return loadConditionalUNet(config, fx.weights(0));
}

/** Kind `irsde.unet` (README 7.18): `ConditionalUNet.forward(xt, cond, t)` → `noise`. */
export const unetKinds: ParityKinds = {
  'irsde.unet': {
    async run(fx, env) {
      const unet = fixtureConditionalUNet(fx);
      const xt = fx.inputNhwc('xt') as tf.Tensor4D;
      const cond = fx.inputNhwc('cond') as tf.Tensor4D;
      try {
        const net = compileConditionalUNet(unet, env.engine);
        const out = await net.run(xt, cond, fixtureInts(fx, 't')).finally(() => net.network.dispose());
        const noise = nhwcToNchw(out);
        out.dispose();
        return { noise };
      } finally {
        tf.dispose([xt, cond]);
        disposeConditionalUNet(unet);
      }
    },
  },
};
