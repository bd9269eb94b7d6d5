import type * as tf from '@tensorflow/tfjs-core';
import { type WeightView } from '@stablesr/core';

/**
 * A per-ResBlock modulation plugged into the U-Net (StableSR's SPADE). Applied to the residual branch after
 * its last conv and before the skip add: `h = modulation.apply(h, cond)`. Its tensors must be reachable
 * as properties (so {@link disposeModule} releases them) or released by an own `dispose()` method.
 */
export interface ResBlockModulation<C> {
  apply(h: tf.Tensor4D, cond: C): tf.Tensor4D;
  dispose?(): void;
}

/** What a modulation loader learns about the ResBlock it belongs to. */
export interface ResBlockInfo {
  /** Input channels of the block. */
  readonly channels: number;
  /** Output channels (the width of `h` the modulation sees). */
  readonly outChannels: number;
  /** Time-embedding width. */
  readonly embChannels: number;
}

/**
 * Extends every ResBlock of a U-Net with a modulation loaded from the ResBlock's own weight scope
 * (e.g. `input_blocks.1.0.` → keys `spade.*`). `C` is the conditioning passed through the forward.
 */
export interface UNetExtension<C> {
  /** For messages ("SPADE"). */
  readonly name: string;
  loadModulation(view: WeightView, block: ResBlockInfo): ResBlockModulation<C>;
}
