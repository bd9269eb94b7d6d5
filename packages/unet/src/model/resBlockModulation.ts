import { type Ops, type WeightView } from '@stablesr/core';

/**
 * The conditioning handed to every ResBlock modulation, for any engine's value type `T`: values keyed by a number
 * (StableSR's struct_cond: one feature map [B, h, w, C] per U-Net resolution, keyed by its spatial **width**).
 */
export type ResBlockCond<T> = ReadonlyMap<number, T>;

/**
 * A per-ResBlock modulation plugged into the U-Net (StableSR's SPADE). Applied to the residual branch after
 * its last conv and before the skip add: `h = modulation.apply(ops, h, cond)`, written once against {@link Ops}
 * (any engine). Its tensors must be reachable as properties (so {@link disposeModule} releases them and the
 * ResBlock's {@link Ops.scope} uploads them) or released by an own `dispose()` method.
 */
export interface ResBlockModulation {
  apply<T>(ops: Ops<T>, h: T, cond: ResBlockCond<T>): T;
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
 * (e.g. `input_blocks.1.0.` → keys `spade.*`). Its conditioning ({@link ResBlockCond}) is passed through the forward.
 */
export interface UNetExtension {
  /** For messages ("SPADE"). */
  readonly name: string;
  loadModulation(view: WeightView, block: ResBlockInfo): ResBlockModulation;
}
