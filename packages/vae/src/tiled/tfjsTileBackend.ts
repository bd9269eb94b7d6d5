import * as tf from '@tensorflow/tfjs-core';
import { applyGroupNorm, conv2d, groupMoments, silu } from '@stablesr/core';
import { attnBlock } from '../attnBlock.js';
import { type Instr, type Reg } from './program.js';
import { neededInputBox, stageRegions } from './regions.js';
import { type GroupMoments, type TileInputs, type TileOutputs, type TileStage, type TiledBackend, momentsKey } from './tiledBackend.js';
import { type Box, type TileGrid, boxContains, clipBox, tileCore } from './tileGrid.js';

interface Value {
  t: tf.Tensor4D;
  box: Box;
}

function regSize(grid: TileGrid, r: Reg): [number, number] {
  const s = 2 ** r.shift;
  return [grid.height * s, grid.width * s];
}

function sliceTo(v: Value, b: Box): tf.Tensor4D {
  if (!boxContains(v.box, b)) throw new Error(`internal: region [${b.y0},${b.y1})×[${b.x0},${b.x1}) not inside the computed [${v.box.y0},${v.box.y1})×[${v.box.x0},${v.box.x1})`);
  if (v.box.y0 === b.y0 && v.box.y1 === b.y1 && v.box.x0 === b.x0 && v.box.x1 === b.x1) return v.t;
  return tf.slice(v.t, [0, b.y0 - v.box.y0, b.x0 - v.box.x0, 0], [-1, b.y1 - b.y0, b.x1 - b.x0, -1]);
}

/** Zero-pads a window cut from the map so that it covers `want` (only where `want` leaves the map). */
function padTo(x: tf.Tensor4D, have: Box, want: Box): tf.Tensor4D {
  const top = have.y0 - want.y0;
  const bottom = want.y1 - have.y1;
  const left = have.x0 - want.x0;
  const right = want.x1 - have.x1;
  if (!top && !bottom && !left && !right) return x;
  return tf.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]]);
}

function evalInstr(grid: TileGrid, ins: Instr, o: Box, get: (r: Reg) => Value, stats: TileInputs['stats'], batch: number): tf.Tensor4D {
  switch (ins.kind) {
    case 'conv':
    case 'downsample': {
      const [H, W] = regSize(grid, ins.x);
      // Convs see zeros beyond the map: their own padding, and for the reference Downsample the one extra row and
      // column it pads on the right and bottom. Inside the map the halo is the neighbours' exact values.
      const want = neededInputBox(ins, o);
      const have = clipBox(want, H, W);
      return conv2d({ ...ins.conv, padding: 0 }, padTo(sliceTo(get(ins.x), have), have, want));
    }
    case 'upsample': {
      const src = neededInputBox(ins, o);
      const x = sliceTo(get(ins.x), src);
      const up = tf.image.resizeNearestNeighbor(x, [x.shape[1] * 2, x.shape[2] * 2], false, false);
      return sliceTo({ t: up, box: { y0: 2 * src.y0, y1: 2 * src.y1, x0: 2 * src.x0, x1: 2 * src.x1 } }, o);
    }
    case 'norm': {
      const s = stats(ins);
      const g = ins.norm.groups;
      return applyGroupNorm(ins.norm, sliceTo(get(ins.x), o), tf.tensor2d(s.mean, [batch, g]), tf.tensor2d(s.variance, [batch, g]));
    }
    case 'silu':
      return silu(sliceTo(get(ins.x), o));
    case 'leakyRelu':
      return tf.leakyRelu(sliceTo(get(ins.x), o), ins.alpha);
    case 'scale':
      return tf.mul(sliceTo(get(ins.x), o), ins.s);
    case 'add':
      return tf.add(sliceTo(get(ins.a), o), sliceTo(get(ins.b), o));
    case 'addScaled':
      return tf.add(sliceTo(get(ins.a), o), tf.mul(sliceTo(get(ins.b), o), ins.s));
    case 'concat':
      return tf.concat(
        ins.xs.map((x) => sliceTo(get(x), o)),
        3,
      );
    case 'attention':
      throw new Error('internal: attention inside a tiled stage');
  }
}

/**
 * Stages on the eager tfjs engine: a tile computes exactly the region its stage needs, clipped to each map, with
 * zero padding only where a conv's input leaves the map.
 */
export const tfjsTiledBackend: TiledBackend = {
  runTile: async (stage: TileStage, input: TileInputs): Promise<TileOutputs> => {
    const { grid, tile, batch } = input;
    const need = stageRegions(
      stage.instrs,
      new Map(stage.stored.map((r) => [r.id, tileCore(grid, tile, r.shift)])),
      (r, b) => clipBox(b, ...regSize(grid, r)),
    );
    const cores: Float32Array[] = [];
    const moments = new Map<string, GroupMoments>();
    tf.tidy(() => {
      const vals = new Map<number, Value>();
      for (const r of stage.loaded) {
        const box = need.get(r.id);
        if (box) vals.set(r.id, { t: input.host(r).windowTensor(box), box });
      }
      const get = (r: Reg): Value => {
        const v = vals.get(r.id);
        if (!v) throw new Error(`internal: value ${r.id} not available`);
        return v;
      };
      for (const ins of stage.instrs) {
        const o = need.get(ins.out.id);
        if (!o) continue;
        vals.set(ins.out.id, { t: evalInstr(grid, ins, o, get, input.stats, batch), box: o });
      }
      for (const r of stage.stored) {
        const core = sliceTo(get(r), tileCore(grid, tile, r.shift));
        cores.push(core.dataSync() as Float32Array);
        for (const g of stage.momentGroups.get(r.id) ?? []) {
          const m = groupMoments(core, g);
          moments.set(momentsKey(r, g), { mean: m.mean.dataSync() as Float32Array, variance: m.variance.dataSync() as Float32Array });
        }
      }
    });
    return { cores, moments };
  },
  attention: async (block, x) => attnBlock(block, x),
  dispose: async () => {},
};
