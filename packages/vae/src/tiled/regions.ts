import { type Instr, type Reg, instrInputs } from './program.js';
import { type Box, boxUnion } from './tileGrid.js';

/**
 * Box of the input `x` that an instruction reads to produce the box `o` of its output exactly, before any
 * clipping to the input's map (convs read their kernel footprint, the reference `Downsample` one extra
 * zero-padded row and column, nearest ×2 upsampling half the box). Coordinates may be negative or beyond the
 * map: the region is relative to wherever the caller puts the tile.
 */
export function neededInputBox(ins: Instr, o: Box): Box {
  switch (ins.kind) {
    case 'conv': {
      const k = ins.conv.kernelSize;
      const p = ins.conv.padding as number;
      return { y0: o.y0 - p, y1: o.y1 - p + k - 1, x0: o.x0 - p, x1: o.x1 - p + k - 1 };
    }
    case 'downsample':
      return { y0: 2 * o.y0, y1: 2 * o.y1 + 1, x0: 2 * o.x0, x1: 2 * o.x1 + 1 };
    case 'upsample':
      return { y0: Math.floor(o.y0 / 2), y1: Math.ceil(o.y1 / 2), x0: Math.floor(o.x0 / 2), x1: Math.ceil(o.x1 / 2) };
    default:
      return o;
  }
}

/**
 * Walks a stage backwards from the boxes its stored values must cover: the box of every value the stage computes
 * or reads, so that each instruction sees exactly the input it needs (`clip` bounds each input box, e.g. to its map).
 */
export function stageRegions(instrs: readonly Instr[], outputs: ReadonlyMap<number, Box>, clip: (r: Reg, b: Box) => Box = (_, b) => b): Map<number, Box> {
  const need = new Map<number, Box>(outputs);
  for (let k = instrs.length - 1; k >= 0; k--) {
    const ins = instrs[k]!;
    const o = need.get(ins.out.id);
    if (!o) continue;
    for (const x of instrInputs(ins)) need.set(x.id, boxUnion(need.get(x.id), clip(x, neededInputBox(ins, o))));
  }
  return need;
}
