import * as tf from '@tensorflow/tfjs-core';
import { type Fixture, type KindOutputs, type ParityKinds, nhwcToNchw } from '@stablesr/core';
import { pickConfig } from '@stablesr/unet';
import { type StructCond, disposeStructCond } from '../srModels.js';
import { type EncoderUNetModelWTConfig, compileTimeAwareEncoder, disposeTimeAwareEncoder, loadTimeAwareEncoder } from '../timeAwareEncoder.js';
import { type UNetModelDualcondV2Config, loadStableSRUNet } from '../unetModelDualcondV2.js';
import { compileUNet, disposeUNet } from '@stablesr/unet';

function timesteps(fx: Fixture, name = 't'): number[] {
  const t = fx.input(name);
  try {
    return Array.from(t.dataSync());
  } finally {
    t.dispose();
  }
}

/** The `struct_cond.<width>` inputs of a fixture as a width-keyed map (NHWC). */
export function fixtureStructCond(fx: Fixture): StructCond {
  const out = new Map<number, tf.Tensor4D>();
  for (const name of Object.keys(fx.manifest.inputs)) {
    const m = /^struct_cond\.(\d+)$/.exec(name);
    if (m) out.set(Number(m[1]), fx.inputNhwc(name) as tf.Tensor4D);
  }
  if (out.size === 0) throw new Error(`${fx.dir}: no struct_cond.<width> inputs`);
  return out;
}

/** Kinds `stablesr.encoder` (README 7.6) and `stablesr.unet` (README 7.7). */
export const modelKinds: ParityKinds = {
  'stablesr.encoder': {
    async run(fx, env) {
      const enc = loadTimeAwareEncoder(pickConfig<EncoderUNetModelWTConfig>(fx.config, 'structcond_stage_config', fx.dir), fx.weights(0));
      const x = fx.inputNhwc('x') as tf.Tensor4D;
      try {
        const net = compileTimeAwareEncoder(enc, env.engine);
        const sc = await net.run(x, timesteps(fx)).finally(() => net.network.dispose());
        const outs: KindOutputs = {};
        for (const [w, f] of sc) outs[`struct_cond.${w}`] = nhwcToNchw(f);
        disposeStructCond(sc);
        return outs;
      } finally {
        x.dispose();
        disposeTimeAwareEncoder(enc);
      }
    },
  },
  'stablesr.unet': {
    async run(fx, env) {
      const unet = loadStableSRUNet(pickConfig<UNetModelDualcondV2Config>(fx.config, 'unet_config', fx.dir), fx.weights(0));
      const x = fx.inputNhwc('x') as tf.Tensor4D;
      const context = fx.input('context') as tf.Tensor3D;
      const sc = fixtureStructCond(fx);
      try {
        const net = compileUNet(unet, env.engine, 'StableSR U-Net');
        const out = await net.run(x, timesteps(fx), context, sc).finally(() => net.network.dispose());
        const eps = nhwcToNchw(out);
        out.dispose();
        return { eps };
      } finally {
        tf.dispose([x, context]);
        disposeStructCond(sc);
        disposeUNet(unet);
      }
    },
  },
};
