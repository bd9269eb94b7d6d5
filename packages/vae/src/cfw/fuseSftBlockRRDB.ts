import { type WeightView } from '@stablesr/core';
import { type FeatureOps } from '../featureOps.js';
import { type CfwResBlock, cfwResBlockForward, loadCfwResBlock } from './resBlock.js';
import { type RRDB, RRDB_GROWTH, loadRRDB, rrdbForward } from './rrdb.js';

/**
 * `Fuse_sft_block_RRDB` (StableSR's controllable feature wrapping at one decoder level):
 * `e = encode_enc_3(RRDB…(encode_enc_1(cat[enc, dec])))`, output `dec + w·e`.
 */
export interface FuseSftBlockRRDB {
  readonly channels: number;
  readonly encode_enc_1: CfwResBlock;
  /** `make_layer(RRDB, num_block)`: an nn.Sequential, keys `encode_enc_2.<n>.rdb<k>.conv<m>`. */
  readonly encode_enc_2: readonly RRDB[];
  readonly encode_enc_3: CfwResBlock;
}

export function loadFuseSftBlockRRDB(view: WeightView, channels: number, numBlock: number, numGrowCh = RRDB_GROWTH): FuseSftBlockRRDB {
  const encode_enc_2: RRDB[] = [];
  for (let n = 0; n < numBlock; n++) encode_enc_2.push(loadRRDB(view.scope(`encode_enc_2.${n}.`), channels, numGrowCh));
  return {
    channels,
    encode_enc_1: loadCfwResBlock(view.scope('encode_enc_1.'), 2 * channels, channels),
    encode_enc_2,
    encode_enc_3: loadCfwResBlock(view.scope('encode_enc_3.'), channels, channels),
  };
}

/** `dec + w·fuse(enc, dec)`. */
export function fuseSftBlockRRDBForward<F>(ops: FeatureOps<F>, f: FuseSftBlockRRDB, enc: F, dec: F, w: number): F {
  return ops.scope(() => {
    let e = cfwResBlockForward(ops, f.encode_enc_1, ops.concat([enc, dec]));
    for (const r of f.encode_enc_2) e = rrdbForward(ops, r, e);
    e = cfwResBlockForward(ops, f.encode_enc_3, e);
    return ops.addScaled(dec, e, w);
  });
}
