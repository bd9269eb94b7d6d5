import * as tf from '@tensorflow/tfjs-core';
import { type ParityKind, nhwcToNchw, runNetworkOnce } from '@stablesr/core';
import { disposeCfwAutoencoder, loadCfwAutoencoder } from '../cfw/autoencoderKLResi.js';
import { cfwDecoderNetwork, cfwEncoderNetwork } from '../vaeNetworks.js';
import { autoencoderConfigOf, configEntry, listedOutputs, scaleFactorOf } from './fixtureConfig.js';

/** The manifest output holding `decoded[w=<w>]` for a given w (names are written from `config.ws`). */
function decodedOutputName(outputs: Record<string, unknown>, w: number): string | undefined {
  return Object.keys(outputs).find((k) => {
    const m = /^decoded\[w=(.+)\]$/.exec(k);
    return m !== null && Number(m[1]) === w;
  });
}

/** `cfw.decode`: CFW posterior, encoder features, and the decoder for each fidelity weight in `config.ws`. */
export const cfwDecodeKind: ParityKind = {
  async run(fx, env) {
    const cfw = loadCfwAutoencoder(autoencoderConfigOf(fx, ['cfw', 'first_stage_config']), fx.weights(0), { scaleFactor: scaleFactorOf(fx) });
    const image = fx.inputNhwc('image') as tf.Tensor4D;
    const z = fx.inputNhwc('z') as tf.Tensor4D;
    const ws = configEntry(fx, 'ws');
    if (!Array.isArray(ws) || !ws.every((w) => typeof w === 'number')) throw new Error(`${fx.dir}/manifest.json: config.ws must be a list of numbers`);
    try {
      const [moments, ...encFeatures] = (await runNetworkOnce(cfwEncoderNetwork(cfw), env.engine, [image])) as tf.Tensor4D[];
      const outs: Record<string, tf.Tensor> = { moments: nhwcToNchw(moments!) };
      encFeatures.forEach((f, k) => (outs[`enc_fea.${k}`] = nhwcToNchw(f)));
      for (const w of ws as number[]) {
        const name = decodedOutputName(fx.manifest.outputs, w);
        if (!name) throw new Error(`${fx.dir}/manifest.json: no output decoded[w=${w}] for config.ws entry ${w}`);
        const [decoded] = await runNetworkOnce(cfwDecoderNetwork(cfw, w), env.engine, [z, ...encFeatures]);
        outs[name] = tf.tidy(() => nhwcToNchw(decoded as tf.Tensor4D));
        decoded!.dispose();
      }
      tf.dispose([moments!, ...encFeatures]);
      return listedOutputs(fx, outs, (t) => t.dispose());
    } finally {
      image.dispose();
      z.dispose();
      disposeCfwAutoencoder(cfw);
    }
  },
};
