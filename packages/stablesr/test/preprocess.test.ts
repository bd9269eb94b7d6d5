import test from 'ava';
import { requireFixtures } from '../../../test/fixtureGate.js';
import * as tf from '@tensorflow/tfjs-core';
import { Fixture, compareArrays, listFixtures } from '@stablesr/core';
import { canvasGeometry, postprocessCanvas, postprocessSize, preprocessCanvas, preprocessCenterCrop } from '../src/preprocess.js';

const root = requireFixtures('pre-processing against the sampler fixtures');
const samplerKinds = ['sampler.ddpm-sr', 'sampler.ddpm-sr-tiled', 'sampler.ddim', 'sampler.ddim-tiled'];

// The sampler fixtures' `image_preprocessed` output isolates the script pre-processing (resize, crop, pad).
for (const dir of root ? listFixtures(root, samplerKinds) : []) {
  test(`pre-processing matches image_preprocessed of ${dir.split('/').pop()}`, async (t) => {
    const fx = new Fixture(dir);
    try {
      const cfg = fx.config as Record<string, number>;
      const lr = fx.inputNhwc('lr') as tf.Tensor4D;
      let image: tf.Tensor4D;
      if (fx.kind.endsWith('-tiled')) {
        const out = preprocessCanvas(lr, cfg.input_size!, cfg.upscale!);
        image = out.image;
        const pre = fx.manifest.preprocess as { upsample_scale: number; ori_h: number; ori_w: number; pad_h: number; pad_w: number; flag_pad: boolean };
        t.is(out.geometry.upsampleScale, pre.upsample_scale);
        t.deepEqual([out.geometry.oriH, out.geometry.oriW, out.geometry.flagPad], [pre.ori_h, pre.ori_w, pre.flag_pad]);
        if (pre.flag_pad) t.deepEqual([out.geometry.padH, out.geometry.padW], [pre.pad_h, pre.pad_w]);
        const outShape = fx.manifest.outputs['output.nofix']!.shape;
        t.deepEqual(postprocessSize(image.shape[1], image.shape[2], out.geometry), [outShape[2], outShape[3]]);
      } else {
        image = preprocessCenterCrop(lr, cfg.input_size!, { clamp: fx.kind !== 'sampler.ddim' });
      }
      const spec = fx.manifest.outputs.image_preprocessed!;
      const nchw = tf.transpose(image, [0, 3, 1, 2]);
      const c = compareArrays(await nchw.data(), fx.raw(spec.key).data, spec.atol, spec.rtol, nchw.shape, spec.shape);
      t.log(`max_abs_err ${c.maxAbsErr.toExponential(3)} allowed ${spec.atol}`);
      t.true(c.pass, c.problem ?? `max_abs_err ${c.maxAbsErr}`);
      tf.dispose([lr, image, nchw]);
    } finally {
      fx.close();
    }
  });
}

test('canvas geometry: upscale, pad both sides to 32 (reference rule), post-crop to the pre-padding size', (t) => {
  const g = canvasGeometry(100, 150, 512, 4);
  t.deepEqual([g.upsampleScale, g.oriH, g.oriW, g.flagPad, g.padH, g.padW], [5.12, 512, 768, false, 0, 0]);
  const g2 = canvasGeometry(130, 200, 512, 4); // 520 × 800: 800 is a multiple of 32 but still padded by 32
  t.deepEqual([g2.upsampleScale, g2.oriH, g2.oriW, g2.flagPad, g2.padH, g2.padW], [4, 520, 800, true, 24, 32]);
  t.deepEqual(postprocessSize(544, 832, g2), [520, 800]);
  t.throws(() => canvasGeometry(100, 100, 512, 1000), { message: /over the 32768-pixel limit/ });
  t.throws(() => canvasGeometry(100, 100, 512, -1), { message: /upscale must be a positive number/ });
});

test.serial('canvas post-processing downscales when the input was upscaled beyond `upscale`', (t) => {
  const g = canvasGeometry(12, 16, 64, 4); // s = 5.33: 64 × 85, padded to 96 × 96
  const x = tf.zeros([1, 96, 96, 3]) as tf.Tensor4D;
  const before = tf.memory().numTensors;
  const y = postprocessCanvas(x, g);
  t.deepEqual(y.shape, [1, 64, 72, 3]);
  t.true(Math.abs(y.dataSync()[0]! - 0.5) < 1e-6);
  y.dispose();
  t.is(tf.memory().numTensors, before);
  x.dispose();
});
