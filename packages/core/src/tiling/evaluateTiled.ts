import * as tf from '@tensorflow/tfjs-core';
import { type ProgressCallback, throwIfAborted } from '../progress.js';
import { blendNormalizer, gaussianTileWeights } from './gaussianWeights.js';
import { latentTilePlan } from './latentTiles.js';

/**
 * Evaluates a network on one window of the state `x` and the same window of its condition (StableSR's LR latent,
 * IR-SDE's μ) at timestep `t`: the whole map, or one tile of it.
 */
export type WindowEvaluator = (x: tf.Tensor4D, cond: tf.Tensor4D, t: number) => Promise<tf.Tensor4D>;

export interface TiledEvaluationOptions {
  /** Tile side in the state's pixels (StableSR: latent pixels, reference `input_size / 8`, 64 for the 512 model). */
  tileSize: number;
  /** Overlap between neighbouring tiles (StableSR reference default 32). */
  tileOverlap: number;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

/**
 * Tiled model evaluation with Gaussian blending (StableSR's `p_mean_variance_canvas`, `p_sample_ddim_sr_tcanvas`):
 * every tile of the reference grid (x-major, last tile flush) is evaluated on `x[tile]` and `cond[tile]`,
 * and the outputs are averaged with the tile weights: `E = Σ e·G / Σ G`. The sampler then applies the
 * posterior / DDIM update (and any v → ε conversion) to the blended output on the whole latent.
 * Memory is bounded by one tile's network evaluation plus a few latent-sized accumulators.
 */
export async function evaluateTiled(evaluate: WindowEvaluator, x: tf.Tensor4D, lrLatent: tf.Tensor4D, t: number, opts: TiledEvaluationOptions): Promise<tf.Tensor4D> {
  const [b, h, w, c] = x.shape;
  if (lrLatent.shape[1] !== h || lrLatent.shape[2] !== w) throw new Error(`tiled evaluation: condition [${lrLatent.shape}] does not match the state [${x.shape}]`);
  const plan = latentTilePlan(h, w, opts.tileSize, opts.tileOverlap);
  const norm = blendNormalizer(h, w, plan);
  let acc: tf.Tensor4D = tf.zeros([b, h, w, c]);
  try {
    for (let i = 0; i < plan.length; i++) {
      throwIfAborted(opts.signal);
      const tile = plan[i]!;
      const xs = tf.slice(x, [0, tile.y0, tile.x0, 0], [b, tile.h, tile.w, c]);
      const ls = tf.slice(lrLatent, [0, tile.y0, tile.x0, 0], [lrLatent.shape[0], tile.h, tile.w, lrLatent.shape[3]]);
      let e: tf.Tensor4D;
      try {
        e = await evaluate(xs, ls, t);
      } finally {
        tf.dispose([xs, ls]);
      }
      const next = tf.tidy(() => {
        const g = tf.tensor4d(Float32Array.from(gaussianTileWeights(tile.w, tile.h)), [1, tile.h, tile.w, 1]);
        const weighted = tf.pad(tf.mul(e, g), [[0, 0], [tile.y0, h - tile.y0 - tile.h], [tile.x0, w - tile.x0 - tile.w], [0, 0]]);
        return tf.add(acc, weighted) as tf.Tensor4D;
      });
      e.dispose();
      acc.dispose();
      acc = next;
      opts.onProgress?.({ stage: 'tile', done: i + 1, total: plan.length, detail: { t, y0: tile.y0, x0: tile.x0 } });
    }
    return tf.tidy(() => tf.div(acc, tf.tensor4d(Float32Array.from(norm), [1, h, w, 1])) as tf.Tensor4D);
  } finally {
    acc.dispose();
  }
}
