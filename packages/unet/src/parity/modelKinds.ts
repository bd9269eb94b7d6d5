import * as tf from '@tensorflow/tfjs-core';
import { type Fixture, type ParityKinds, nhwcToNchw } from '@stablesr/core';
import { pickConfig, type UNetConfig } from '../model/unetConfig.js';
import { disposeUNet, loadUNet, unetForward } from '../model/unetModel.js';

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
    async run(fx) {
      const unet = loadUNet(pickConfig<UNetConfig>(fx.config, 'unet_config', fx.dir), fx.weights(0));
      try {
        const x = fx.inputNhwc('x') as tf.Tensor4D;
        const context = fx.input('context') as tf.Tensor3D;
        try {
          const out = unetForward(unet, x, fixtureTimesteps(fx), context);
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
