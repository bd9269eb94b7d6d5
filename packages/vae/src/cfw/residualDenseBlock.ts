import { type Conv2d, type WeightView, loadConv2d } from '@stablesr/core';
import { type FeatureOps } from '../featureOps.js';

/** LeakyReLU slope of basicsr's dense blocks. */
export const RDB_LEAKY_SLOPE = 0.2;
/** Residual scaling of basicsr's dense blocks and RRDB. */
export const RDB_RESIDUAL_SCALE = 0.2;

/**
 * basicsr `ResidualDenseBlock` (`rrdbnet_arch.py`): five 3×3 convs, each seeing the concatenation of the
 * input and all previous outputs (growth `num_grow_ch`), LeakyReLU 0.2 after the first four, `x5·0.2 + x`.
 */
export interface ResidualDenseBlock {
  readonly conv1: Conv2d;
  readonly conv2: Conv2d;
  readonly conv3: Conv2d;
  readonly conv4: Conv2d;
  readonly conv5: Conv2d;
}

export function loadResidualDenseBlock(view: WeightView, numFeat: number, numGrowCh: number): ResidualDenseBlock {
  return {
    conv1: loadConv2d(view, 'conv1', numFeat, numGrowCh, 3),
    conv2: loadConv2d(view, 'conv2', numFeat + numGrowCh, numGrowCh, 3),
    conv3: loadConv2d(view, 'conv3', numFeat + 2 * numGrowCh, numGrowCh, 3),
    conv4: loadConv2d(view, 'conv4', numFeat + 3 * numGrowCh, numGrowCh, 3),
    conv5: loadConv2d(view, 'conv5', numFeat + 4 * numGrowCh, numFeat, 3),
  };
}

export function residualDenseBlockForward<F>(ops: FeatureOps<F>, r: ResidualDenseBlock, x: F): F {
  return ops.scope(() => {
    const x1 = ops.leakyRelu(ops.conv(r.conv1, x), RDB_LEAKY_SLOPE);
    const x2 = ops.leakyRelu(ops.conv(r.conv2, ops.concat([x, x1])), RDB_LEAKY_SLOPE);
    const x3 = ops.leakyRelu(ops.conv(r.conv3, ops.concat([x, x1, x2])), RDB_LEAKY_SLOPE);
    const x4 = ops.leakyRelu(ops.conv(r.conv4, ops.concat([x, x1, x2, x3])), RDB_LEAKY_SLOPE);
    const x5 = ops.conv(r.conv5, ops.concat([x, x1, x2, x3, x4]));
    return ops.addScaled(x, x5, RDB_RESIDUAL_SCALE);
  });
}
