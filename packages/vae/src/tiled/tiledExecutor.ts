import * as tf from '@tensorflow/tfjs-core';
import { type ProgressCallback, applyGroupNorm, conv2d, groupMoments, silu, throwIfAborted } from '@stablesr/core';
import { attnBlock } from '../attnBlock.js';
import { HostFeature } from './hostFeature.js';
import { type Instr, type Program, type Reg, instrInputs } from './program.js';
import { type Box, type TileGrid, boxContains, boxUnion, clipBox, tileCore, tileCount } from './tileGrid.js';

export interface TiledRunOptions {
  /** Called after every tile of every stage (and every whole-image attention). */
  onProgress?: ProgressCallback;
  /** Checked between tiles; aborting throws and frees everything. */
  signal?: AbortSignal;
  /** `stage` reported to onProgress (`encode`, `decode`). */
  stage?: string;
}

/** Per-(batch, group) statistics, accumulated tile by tile (Chan et al.'s parallel combination). */
class GroupStatsAccumulator {
  private n = 0;
  private sum: Float64Array;
  private m2: Float64Array;
  private parts: { n: number; mean: Float32Array; variance: Float32Array }[] = [];
  constructor(readonly size: number) {
    this.sum = new Float64Array(size);
    this.m2 = new Float64Array(size);
  }
  /** Adds one tile's own two-pass mean and (biased) variance over `n` values per group. */
  add(n: number, mean: Float32Array, variance: Float32Array): void {
    this.parts.push({ n, mean, variance });
    this.n += n;
    for (let i = 0; i < this.size; i++) this.sum[i]! += n * mean[i]!;
  }
  /**
   * Whole-image mean and biased variance: Σ n_t·(var_t + (mean_t − mean)²) / N. Each tile's variance is
   * taken about its own mean, so nothing cancels catastrophically (unlike Σx² − N·mean²).
   */
  finish(): { mean: Float32Array; variance: Float32Array } {
    const mean = new Float64Array(this.size);
    for (let i = 0; i < this.size; i++) mean[i] = this.sum[i]! / this.n;
    for (const p of this.parts) {
      for (let i = 0; i < this.size; i++) {
        const d = p.mean[i]! - mean[i]!;
        this.m2[i]! += p.n * (p.variance[i]! + d * d);
      }
    }
    const variance = new Float32Array(this.size);
    for (let i = 0; i < this.size; i++) variance[i] = this.m2[i]! / this.n;
    return { mean: Float32Array.from(mean), variance };
  }
}

interface Stats {
  mean: Float32Array;
  variance: Float32Array;
}

interface Value {
  t: tf.Tensor4D;
  box: Box;
}

interface Segment {
  start: number;
  /** inclusive */
  end: number;
  global: boolean;
}

/**
 * Splits the program into stages: a new stage starts at every GroupNorm (it needs the whole image's
 * statistics of its input, which all tiles must have produced first) and every attention runs alone,
 * on the whole feature map.
 */
export function segmentProgram(program: Program): Segment[] {
  const segs: Segment[] = [];
  let cur: Segment | undefined;
  program.instrs.forEach((ins, i) => {
    if (ins.kind === 'attention') {
      if (cur) segs.push(cur);
      segs.push({ start: i, end: i, global: true });
      cur = undefined;
    } else if (!cur || ins.kind === 'norm') {
      if (cur) segs.push(cur);
      cur = { start: i, end: i, global: false };
    } else {
      cur.end = i;
    }
  });
  if (cur) segs.push(cur);
  return segs;
}

function regSize(grid: TileGrid, r: Reg): [number, number] {
  const s = 2 ** r.shift;
  return [grid.height * s, grid.width * s];
}

/** Box of the input `x` an instruction needs to produce `o` exactly (clipped to x's map). */
function neededInput(grid: TileGrid, ins: Instr, x: Reg, o: Box): Box {
  const [H, W] = regSize(grid, x);
  switch (ins.kind) {
    case 'conv': {
      const k = ins.conv.kernelSize;
      const p = ins.conv.padding as number;
      return clipBox({ y0: o.y0 - p, y1: o.y1 - p + k - 1, x0: o.x0 - p, x1: o.x1 - p + k - 1 }, H, W);
    }
    case 'downsample':
      return clipBox({ y0: 2 * o.y0, y1: 2 * o.y1 + 1, x0: 2 * o.x0, x1: 2 * o.x1 + 1 }, H, W);
    case 'upsample':
      return { y0: Math.floor(o.y0 / 2), y1: Math.ceil(o.y1 / 2), x0: Math.floor(o.x0 / 2), x1: Math.ceil(o.x1 / 2) };
    default:
      return o;
  }
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

function evalInstr(grid: TileGrid, ins: Instr, o: Box, get: (r: Reg) => Value, stats: (ins: Instr & { kind: 'norm' }) => Stats, batch: number): tf.Tensor4D {
  switch (ins.kind) {
    case 'conv': {
      const [H, W] = regSize(grid, ins.x);
      const k = ins.conv.kernelSize;
      const p = ins.conv.padding as number;
      const want = { y0: o.y0 - p, y1: o.y1 - p + k - 1, x0: o.x0 - p, x1: o.x1 - p + k - 1 };
      const have = clipBox(want, H, W);
      return conv2d({ ...ins.conv, padding: 0 }, padTo(sliceTo(get(ins.x), have), have, want));
    }
    case 'downsample': {
      const [H, W] = regSize(grid, ins.x);
      // The reference pads right/bottom by one zero row/column before the stride-2 conv; at the map's
      // border that pad is exactly what padTo adds.
      const want = { y0: 2 * o.y0, y1: 2 * o.y1 + 1, x0: 2 * o.x0, x1: 2 * o.x1 + 1 };
      const have = clipBox(want, H, W);
      return conv2d({ ...ins.conv, padding: 0 }, padTo(sliceTo(get(ins.x), have), have, want));
    }
    case 'upsample': {
      const src = neededInput(grid, ins, ins.x, o);
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

const yieldToEventLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * Runs a traced program tile by tile with results equal to the untiled forward (up to float rounding).
 *
 * Each stage (see {@link segmentProgram}) is run for every tile in turn. A tile computes exactly the
 * region its stage needs: the stored outputs' cores, grown backwards through each conv (its kernel
 * footprint), downsample and upsample, with zero padding only where the region leaves the image — so the
 * halo is recomputed from exact neighbours' values instead of approximated. Values that outlive a stage
 * are parked per tile core in host memory ({@link HostFeature}); every GroupNorm input's statistics are
 * combined over all cores before the next stage applies the norm. Attention blocks run on the whole
 * feature map at their level (for SD's VAE that is only the mid block, at latent resolution).
 *
 * Peak backend memory is one tile's working set plus the whole-map attention; host memory holds the
 * feature maps live across a stage boundary (at most a block input and its residual branch) at the
 * current level.
 */
export async function runTiledProgram(program: Program, grid: TileGrid, inputs: readonly tf.Tensor4D[], opts: TiledRunOptions = {}): Promise<tf.Tensor4D[]> {
  if (inputs.length !== program.inputs.length) throw new Error(`tiled program expects ${program.inputs.length} inputs, got ${inputs.length}`);
  const batch = inputs[0]!.shape[0];
  const nTiles = tileCount(grid);
  const segs = segmentProgram(program);
  const stage = opts.stage ?? 'tiled';
  const total = segs.reduce((a, s) => a + (s.global ? 1 : nTiles), 0);
  let done = 0;

  const lastUse = new Map<number, number>();
  program.instrs.forEach((ins, i) => instrInputs(ins).forEach((r) => lastUse.set(r.id, i)));
  for (const r of program.outputs) lastUse.set(r.id, Infinity);
  const normGroups = new Map<number, Set<number>>();
  for (const ins of program.instrs) {
    if (ins.kind === 'norm') {
      const s = normGroups.get(ins.x.id) ?? new Set<number>();
      s.add(ins.norm.groups);
      normGroups.set(ins.x.id, s);
    }
  }

  const host = new Map<number, HostFeature>();
  const stats = new Map<string, Stats>();
  const statsOf = (ins: Instr & { kind: 'norm' }): Stats => {
    const s = stats.get(`${ins.x.id}/${ins.norm.groups}`);
    if (!s) throw new Error('internal: GroupNorm statistics missing');
    return s;
  };
  const wholeMapStats = (r: Reg, t: tf.Tensor4D): void => {
    for (const g of normGroups.get(r.id) ?? []) {
      const m = groupMoments(t, g);
      stats.set(`${r.id}/${g}`, { mean: m.mean.dataSync() as Float32Array, variance: m.variance.dataSync() as Float32Array });
      m.mean.dispose();
      m.variance.dispose();
    }
  };

  program.inputs.forEach((r, i) => {
    const t = inputs[i]!;
    if (t.shape[0] !== batch) throw new Error(`tiled program: input ${i} has batch ${t.shape[0]}, expected ${batch}`);
    if (t.shape[3] !== r.channels) throw new Error(`tiled program: input ${i} has ${t.shape[3]} channels, expected ${r.channels}`);
    host.set(r.id, HostFeature.fromTensor(grid, r.shift, t, `input ${i}`));
    wholeMapStats(r, t);
  });

  for (const seg of segs) {
    const instrs = program.instrs.slice(seg.start, seg.end + 1);
    if (seg.global) {
      throwIfAborted(opts.signal);
      const ins = instrs[0]! as Instr & { kind: 'attention' };
      const x = host.get(ins.x.id)!.toTensor();
      const out = attnBlock(ins.block, x);
      x.dispose();
      host.set(ins.out.id, HostFeature.fromTensor(grid, ins.out.shift, out));
      wholeMapStats(ins.out, out);
      out.dispose();
      opts.onProgress?.({ stage, done: ++done, total, detail: { step: 'attention' } });
      await yieldToEventLoop();
    } else {
      const defined = new Set(instrs.map((i) => i.out.id));
      const stored = instrs.map((i) => i.out).filter((r) => (lastUse.get(r.id) ?? -1) > seg.end);
      const loaded = new Map<number, Reg>();
      for (const ins of instrs) for (const r of instrInputs(ins)) if (!defined.has(r.id)) loaded.set(r.id, r);
      const acc = new Map<string, GroupStatsAccumulator>();
      for (const r of stored) {
        host.set(r.id, new HostFeature(grid, r.shift, batch, r.channels));
        for (const g of normGroups.get(r.id) ?? []) acc.set(`${r.id}/${g}`, new GroupStatsAccumulator(batch * g));
      }
      for (let t = 0; t < nTiles; t++) {
        throwIfAborted(opts.signal);
        // Backwards: the region of every value this tile must compute in this stage.
        const need = new Map<number, Box>();
        for (const r of stored) need.set(r.id, tileCore(grid, t, r.shift));
        for (let k = instrs.length - 1; k >= 0; k--) {
          const ins = instrs[k]!;
          const o = need.get(ins.out.id);
          if (!o) continue;
          for (const x of instrInputs(ins)) need.set(x.id, boxUnion(need.get(x.id), neededInput(grid, ins, x, o)));
        }
        tf.tidy(() => {
          const vals = new Map<number, Value>();
          for (const r of loaded.values()) {
            const box = need.get(r.id);
            if (box) vals.set(r.id, { t: host.get(r.id)!.windowTensor(box), box });
          }
          const get = (r: Reg): Value => {
            const v = vals.get(r.id);
            if (!v) throw new Error(`internal: value ${r.id} not available`);
            return v;
          };
          for (const ins of instrs) {
            const o = need.get(ins.out.id);
            if (!o) continue;
            vals.set(ins.out.id, { t: evalInstr(grid, ins, o, get, statsOf, batch), box: o });
          }
          for (const r of stored) {
            const core = sliceTo(get(r), tileCore(grid, t, r.shift));
            host.get(r.id)!.setCore(t, core.dataSync() as Float32Array);
            for (const g of normGroups.get(r.id) ?? []) {
              const m = groupMoments(core, g);
              acc.get(`${r.id}/${g}`)!.add((core.size / batch) / g, m.mean.dataSync() as Float32Array, m.variance.dataSync() as Float32Array);
            }
          }
        });
        opts.onProgress?.({ stage, done: ++done, total, detail: { tile: t, tiles: nTiles } });
        await yieldToEventLoop();
      }
      for (const [key, a] of acc) stats.set(key, a.finish());
    }
    // Host copies no later stage reads.
    for (const [id] of host) if ((lastUse.get(id) ?? -1) <= seg.end) host.delete(id);
  }
  return program.outputs.map((r) => {
    const h = host.get(r.id);
    if (!h) throw new Error('internal: program output not computed');
    return h.toTensor();
  });
}
