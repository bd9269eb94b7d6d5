import * as tf from '@tensorflow/tfjs-core';
import { type Fixture, type KindOutputs } from '@stablesr/core';

/** An integer input of a fixture (timesteps) as plain numbers. */
export function fixtureInts(fx: Fixture, name: string): number[] {
  const t = fx.input(name);
  try {
    return Array.from(t.dataSync());
  } finally {
    t.dispose();
  }
}

/** Fills a kind's outputs; if that fails part-way, what it had produced is released. */
export async function collectOutputs(fill: (outs: KindOutputs) => Promise<void>): Promise<KindOutputs> {
  const outs: KindOutputs = {};
  try {
    await fill(outs);
    return outs;
  } catch (e) {
    tf.dispose(Object.values(outs).filter((v): v is tf.Tensor => v instanceof tf.Tensor));
    throw e;
  }
}
