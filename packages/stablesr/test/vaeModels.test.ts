import test from 'ava';
import { requireFixtures } from '../../../test/fixtureGate.js';
import { ENGINES } from '../../../test/fixtureSuite.js';
import * as tf from '@tensorflow/tfjs-core';
import { Fixture, compareArrays, listFixtures, resolveEngine } from '@stablesr/core';
import { parseStableSRConfig } from '../src/stableSRConfig.js';
import { loadVaeModels } from '../src/vaeModels.js';

const root = requireFixtures('CFW encode / decode of the sampler fixtures');


// The autoencoder half of the sampler fixtures: CFW enc_fea of image_preprocessed and the decode of the
// stored samples with fusion_w = dec_w (README 7.12 steps 3 and 7), independent of the U-Net, through the
// seam-free tiled VAE (vaeTileSize 32: 4 or 9 tiles) on each engine.
for (const dir of root ? listFixtures(root, ['sampler.ddpm-sr', 'sampler.ddim-tiled']) : []) for (const engineName of ENGINES) {
  test.serial(`tiled CFW encode / decode of ${dir.split('/').pop()} (stored samples) on ${engineName}`, async (t) => {
    const fx = new Fixture(dir);
    try {
      const cfg = parseStableSRConfig((fx.config as { model: unknown }).model, 'manifest');
      const before = tf.memory().numTensors;
      const m = loadVaeModels(cfg.first_stage_config, fx.weights(0), cfg.cfw_config, fx.weights(1), { scaleFactor: cfg.scale_factor, vaeTileSize: 32, engine: await resolveEngine({ engine: engineName, threads: 1 }) });
      const image = fx.expectedNhwc('image_preprocessed') as tf.Tensor4D;
      const samples = fx.expectedNhwc('samples') as tf.Tensor4D;
      const { posterior, encFea } = await m.cfw!.encode(image);
      const z = tf.div(samples, m.scaleFactor) as tf.Tensor4D;
      const decoded = await m.cfw!.decode(z, encFea, (fx.config as { dec_w: number }).dec_w);
      const check = async (name: string, x: tf.Tensor4D) => {
        const spec = fx.manifest.outputs[name]!;
        const nchw = tf.transpose(x, [0, 3, 1, 2]);
        const c = compareArrays(await nchw.data(), fx.raw(spec.key).data, spec.atol_stepwise ?? spec.atol, spec.rtol, nchw.shape, spec.shape);
        nchw.dispose();
        t.log(`${name}: max_abs_err ${c.maxAbsErr.toExponential(3)} allowed ${(spec.atol_stepwise ?? spec.atol).toExponential(3)}`);
        t.true(c.pass, `${name}: ${c.problem ?? c.maxAbsErr}`);
      };
      await check('enc_fea.0', encFea[0]!);
      await check('enc_fea.1', encFea[1]!);
      await check('decoded', decoded);
      tf.dispose([image, samples, posterior.mean, posterior.std, ...encFea, z, decoded]);
      m.dispose();
      t.is(tf.memory().numTensors, before);
    } finally {
      fx.close();
    }
  });
}
