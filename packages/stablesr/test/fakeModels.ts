// Small stand-in networks for pipeline tests: spatially pointwise, so tiled and whole-latent sampling
// must agree, and cheap enough to run many steps. Not a model of StableSR's numerics.
import * as tf from '@tensorflow/tfjs-core';
import { type SRModels, type StructCond } from '../src/srModels.js';

export function fakeModels(opts: { cfw?: boolean; onUnet?: () => void } = {}): SRModels {
  const f = 8;
  const encode = (image: tf.Tensor4D) =>
    tf.tidy(() => {
      const pooled = tf.avgPool(image, f, f, 'valid') as tf.Tensor4D; // [B, h, w, 3]
      const mean = tf.concat([pooled, tf.mul(tf.slice(pooled, [0, 0, 0, 0], [-1, -1, -1, 1]), -1)], 3) as tf.Tensor4D;
      return { mean, std: tf.mul(tf.onesLike(mean), 0.1) as tf.Tensor4D };
    });
  const decode = (z: tf.Tensor4D) =>
    tf.tidy(() => {
      const [b, h, w] = z.shape;
      const rgb = tf.slice(z, [0, 0, 0, 0], [-1, -1, -1, 3]);
      return tf.reshape(tf.tanh(tf.image.resizeNearestNeighbor(rgb as tf.Tensor4D, [h * f, w * f])), [b, h * f, w * f, 3]) as tf.Tensor4D;
    });
  return {
    scaleFactor: 0.18215,
    downsampling: f,
    latentChannels: 4,
    unetDownFactor: 1,
    structCond: (lr, t) => new Map([[lr.shape[2], tf.tidy(() => tf.mul(lr, tf.tensor(t.map((v) => v / 1000), [t.length, 1, 1, 1])) as tf.Tensor4D)]]),
    unet: (x, t, ctx, cond: StructCond) => {
      opts.onUnet?.();
      return tf.tidy(() => {
        const sc = cond.get(x.shape[2]);
        if (!sc) throw new Error(`no struct cond for width ${x.shape[2]}`);
        const c = tf.reshape(tf.mean(ctx, [1, 2]), [ctx.shape[0], 1, 1, 1]);
        return tf.add(tf.add(tf.mul(x, 0.1), sc), tf.mul(c, tf.tensor(t.map((v) => v / 1000), [t.length, 1, 1, 1]))) as tf.Tensor4D;
      });
    },
    encodeFirstStage: encode,
    decodeFirstStage: decode,
    cfw: opts.cfw
      ? {
          encode: (image) => ({ posterior: encode(image), encFea: [tf.avgPool(image, 2, 2, 'valid') as tf.Tensor4D] }),
          decode: (z, encFea, w) =>
            tf.tidy(() => {
              const d = decode(z);
              const e = tf.image.resizeNearestNeighbor(encFea[0]!, [d.shape[1], d.shape[2]]);
              return tf.add(d, tf.mul(e, w)) as tf.Tensor4D;
            }),
        }
      : undefined,
  };
}
