import { type WeightView } from '@stablesr/core';
import { type FeatureOps } from '../featureOps.js';
import { RDB_RESIDUAL_SCALE, type ResidualDenseBlock, loadResidualDenseBlock, residualDenseBlockForward } from './residualDenseBlock.js';

/** basicsr's default growth channels of RRDB (`num_grow_ch`), also what `Fuse_sft_block_RRDB` passes. */
export const RRDB_GROWTH = 32;

/** basicsr `RRDB`: three residual dense blocks, `out·0.2 + x`. */
export interface RRDB {
  readonly rdb1: ResidualDenseBlock;
  readonly rdb2: ResidualDenseBlock;
  readonly rdb3: ResidualDenseBlock;
}

export function loadRRDB(view: WeightView, numFeat: number, numGrowCh = RRDB_GROWTH): RRDB {
  return {
    rdb1: loadResidualDenseBlock(view.scope('rdb1.'), numFeat, numGrowCh),
    rdb2: loadResidualDenseBlock(view.scope('rdb2.'), numFeat, numGrowCh),
    rdb3: loadResidualDenseBlock(view.scope('rdb3.'), numFeat, numGrowCh),
  };
}

export function rrdbForward<F>(ops: FeatureOps<F>, r: RRDB, x: F): F {
  return ops.scope(() => {
    const out = residualDenseBlockForward(ops, r.rdb3, residualDenseBlockForward(ops, r.rdb2, residualDenseBlockForward(ops, r.rdb1, x)));
    return ops.addScaled(x, out, RDB_RESIDUAL_SCALE);
  });
}
