import { type WeightView } from '@stablesr/core';
import { type AttnBlock, loadAttnBlock } from './attnBlock.js';
import { type FeatureOps } from './featureOps.js';
import { type ResnetBlock, loadResnetBlock, resnetBlockForward } from './resnetBlock.js';

/** The `mid` module of Encoder/Decoder: ResnetBlock, AttnBlock (always present), ResnetBlock. */
export interface MidBlock {
  readonly block_1: ResnetBlock;
  readonly attn_1: AttnBlock;
  readonly block_2: ResnetBlock;
}

export function loadMidBlock(view: WeightView, channels: number): MidBlock {
  return {
    block_1: loadResnetBlock(view.scope('block_1.'), channels, channels),
    attn_1: loadAttnBlock(view.scope('attn_1.'), channels),
    block_2: loadResnetBlock(view.scope('block_2.'), channels, channels),
  };
}

export function midBlockForward<F>(ops: FeatureOps<F>, m: MidBlock, x: F): F {
  const h1 = resnetBlockForward(ops, m.block_1, x);
  const h2 = ops.attention(m.attn_1, h1);
  ops.release(h1);
  const h3 = resnetBlockForward(ops, m.block_2, h2);
  ops.release(h2);
  return h3;
}
