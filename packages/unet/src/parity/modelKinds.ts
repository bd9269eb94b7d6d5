import * as tf from '@tensorflow/tfjs-core';
import { type Fixture, type ParityKinds, nhwcToNchw } from '@stablesr/core';
import { pickConfig, type UNetConfig } from '../model/unetConfig.js';
import { disposeUNet, loadUNet } from '../model/unetModel.js';
import { compileUNet } from '../model/unetNetwork.js';

/** Timesteps of a fixture input as plain numbers. */
export function fixtureTimesteps(fx: Fixture, name = 't'): number[] {
  const t = fx.input(name);
  try {
    return Array.from(t.dataSync());
  } finally {
    t.dispose();
  }
}

/** Kind `unet` (README 7.5): plain SD-2.x `UNetModel.forward(x, timesteps=t, context=context)` → `eps`. */
export const modelKinds: ParityKinds = {
  unet: {
    async run(fx, env) {
      const unet = loadUNet(pickConfig<UNetConfig>(fx.config, 'unet_config', fx.dir), fx.weights(0));
      try {
        const x = fx.inputNhwc('x') as tf.Tensor4D;
        const context = fx.input('context') as tf.Tensor3D;
        try {
          const net = compileUNet(unet, env.engine);
          const out = await net.run(x, fixtureTimesteps(fx), context).finally(() => net.network.dispose());
          const eps = nhwcToNchw(out);
          out.dispose();
          return { eps };
        } finally {
          tf.dispose([x, context]);
        }
      } finally {
        disposeUNet(unet);
      }
    },
  },
};
