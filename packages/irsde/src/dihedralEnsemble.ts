import * as tf from '@tensorflow/tfjs-core';

/** A network call on NHWC maps: state, condition, timestep → a map of the state's shape (the caller owns it). */
export type MapNetworkRun = (x: tf.Tensor4D, cond: tf.Tensor4D, t: number) => Promise<tf.Tensor4D>;

/** The eight symmetries of the square as (transpose, flip rows, flip columns), applied in that order. */
const SYMMETRIES = [false, true].flatMap((transpose) => [false, true].flatMap((flipRows) => [false, true].map((flipCols) => ({ transpose, flipRows, flipCols }))));

function forward(x: tf.Tensor4D, s: (typeof SYMMETRIES)[number]): tf.Tensor4D {
  let y: tf.Tensor4D = s.transpose ? tf.transpose(x, [0, 2, 1, 3]) : x;
  if (s.flipRows) y = tf.reverse(y, 1);
  if (s.flipCols) y = tf.reverse(y, 2);
  return y;
}

function inverse(y: tf.Tensor4D, s: (typeof SYMMETRIES)[number]): tf.Tensor4D {
  let x = y;
  if (s.flipCols) x = tf.reverse(x, 2);
  if (s.flipRows) x = tf.reverse(x, 1);
  return s.transpose ? tf.transpose(x, [0, 2, 1, 3]) : x;
}

/**
 * The geometric self-ensemble of SR papers (EDSR+, Lim et al. 2017): the network runs on the 8 flips/transposes of
 * its inputs and the outputs, mapped back, are averaged. The training patches were augmented with the same eight
 * symmetries, so each is as valid an input as the original; averaging cancels part of the network's error at 8× the
 * cost. For a network whose output is pixel-wise linear in what the sampler uses (every IR-SDE parameterisation),
 * averaging the outputs averages the x̂₀ estimates.
 */
export function dihedralEnsemble(run: MapNetworkRun): MapNetworkRun {
  return async (x, cond, t) => {
    let sum: tf.Tensor4D | undefined;
    try {
      for (const s of SYMMETRIES) {
        const [xs, cs] = tf.tidy(() => [forward(x, s), forward(cond, s)]);
        let out: tf.Tensor4D;
        try {
          out = await run(xs!, cs!, t);
        } finally {
          // The identity leaves the caller's tensors as they are: only the transformed copies are ours.
          if (xs !== x) xs!.dispose();
          if (cs !== cond) cs!.dispose();
        }
        const next = tf.tidy(() => {
          const back = inverse(out, s);
          return sum ? tf.add(sum, back) : tf.clone(back);
        }) as tf.Tensor4D;
        out.dispose();
        sum?.dispose();
        sum = next;
      }
      const total = sum!;
      sum = undefined;
      try {
        return tf.tidy(() => tf.div(total, SYMMETRIES.length) as tf.Tensor4D);
      } finally {
        total.dispose();
      }
    } finally {
      sum?.dispose();
    }
  };
}
