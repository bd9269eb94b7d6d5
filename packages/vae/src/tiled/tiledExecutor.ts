import * as tf from '@tensorflow/tfjs-core';
import { type ProgressCallback, groupMoments, throwIfAborted } from '@stablesr/core';
import { HostFeature } from './hostFeature.js';
import { type Instr, type Program, type Reg, instrInputs } from './program.js';
import { tfjsTiledBackend } from './tfjsTileBackend.js';
import { type GroupMoments, type TileStage, type TiledBackend, momentsKey } from './tiledBackend.js';
import { type TileGrid, tileCount } from './tileGrid.js';

export interface TiledRunOptions {
  /** Called after every tile of every stage (and every whole-image attention). */
  onProgress?: ProgressCallback;
  /** Checked between tiles; aborting throws and frees everything. */
  signal?: AbortSignal;
  /** `stage` reported to onProgress (`encode`, `decode`). */
  stage?: string;
  /** Engine of the stages (default: eager tfjs on the active backend). */
  backend?: TiledBackend;
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
  const backend = opts.backend ?? tfjsTiledBackend;
  const batch = inputs[0]!.shape[0];
  const nTiles = tileCount(grid);
  const segs = segmentProgram(program);
  const stage = opts.stage ?? 'tiled';
  const total = segs.reduce((a, s) => a + (s.global ? 1 : nTiles), 0);
  let done = 0;

  const lastUse = new Map<number, number>();
  program.instrs.forEach((ins, i) => instrInputs(ins).forEach((r) => lastUse.set(r.id, i)));
  for (const r of program.outputs) lastUse.set(r.id, Infinity);
  const normGroups = new Map<number, number[]>();
  for (const ins of program.instrs) {
    if (ins.kind === 'norm') {
      const s = normGroups.get(ins.x.id) ?? [];
      if (!s.includes(ins.norm.groups)) s.push(ins.norm.groups);
      normGroups.set(ins.x.id, s);
    }
  }

  const host = new Map<number, HostFeature>();
  const stats = new Map<string, GroupMoments>();
  const statsOf = (ins: Instr & { kind: 'norm' }): GroupMoments => {
    const s = stats.get(momentsKey(ins.x, ins.norm.groups));
    if (!s) throw new Error('internal: GroupNorm statistics missing');
    return s;
  };
  const hostOf = (r: Reg): HostFeature => {
    const h = host.get(r.id);
    if (!h) throw new Error(`internal: value ${r.id} is not on the host`);
    return h;
  };
  const wholeMapStats = (r: Reg, t: tf.Tensor4D): void => {
    for (const g of normGroups.get(r.id) ?? []) {
      const m = groupMoments(t, g);
      stats.set(momentsKey(r, g), { mean: m.mean.dataSync() as Float32Array, variance: m.variance.dataSync() as Float32Array });
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
      const x = hostOf(ins.x).toTensor();
      let out: tf.Tensor4D;
      try {
        out = await backend.attention(ins.block, x);
      } finally {
        x.dispose();
      }
      try {
        host.set(ins.out.id, HostFeature.fromTensor(grid, ins.out.shift, out));
        wholeMapStats(ins.out, out);
      } finally {
        out.dispose();
      }
      opts.onProgress?.({ stage, done: ++done, total, detail: { step: 'attention' } });
      await yieldToEventLoop();
    } else {
      const defined = new Set(instrs.map((i) => i.out.id));
      const stored = instrs.map((i) => i.out).filter((r) => (lastUse.get(r.id) ?? -1) > seg.end);
      const loaded = new Map<number, Reg>();
      for (const ins of instrs) for (const r of instrInputs(ins)) if (!defined.has(r.id)) loaded.set(r.id, r);
      const momentGroups = new Map(stored.filter((r) => normGroups.has(r.id)).map((r) => [r.id, normGroups.get(r.id)!] as const));
      const plan: TileStage = { key: stageKey(instrs, stored, [...loaded.values()]), instrs, stored, loaded: [...loaded.values()], momentGroups };
      const acc = new Map<string, GroupStatsAccumulator>();
      for (const r of stored) {
        host.set(r.id, new HostFeature(grid, r.shift, batch, r.channels));
        for (const g of momentGroups.get(r.id) ?? []) acc.set(momentsKey(r, g), new GroupStatsAccumulator(batch * g));
      }
      for (let t = 0; t < nTiles; t++) {
        throwIfAborted(opts.signal);
        const out = await backend.runTile(plan, { grid, tile: t, batch, host: hostOf, stats: statsOf });
        stored.forEach((r, k) => {
          const core = out.cores[k]!;
          hostOf(r).setCore(t, core);
          for (const g of momentGroups.get(r.id) ?? []) {
            const m = out.moments.get(momentsKey(r, g));
            if (!m) throw new Error(`internal: tile ${t} returned no statistics for value ${r.id}`);
            acc.get(momentsKey(r, g))!.add(core.length / batch / g, m.mean, m.variance);
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
  return program.outputs.map((r) => hostOf(r).toTensor());
}

/** Identity of an object (a layer) within this process, for stage keys. */
const layerIds = new WeakMap<object, number>();
let nextLayerId = 0;
const layerId = (o: object): number => {
  let id = layerIds.get(o);
  if (id === undefined) layerIds.set(o, (id = nextLayerId++));
  return id;
};

/**
 * A stage's computation as a string: instructions with their layers (by identity), scalars, channels and levels,
 * and which values come in and go out. Equal keys compute the same function of their inputs.
 */
function stageKey(instrs: readonly Instr[], stored: readonly Reg[], loaded: readonly Reg[]): string {
  const reg = (r: Reg): string => `${r.id}:${r.channels}@${r.shift}`;
  const layer = (i: Instr): string => {
    switch (i.kind) {
      case 'conv':
      case 'downsample':
        return `#${layerId(i.conv)}`;
      case 'norm':
        return `#${layerId(i.norm)}`;
      case 'attention':
        return `#${layerId(i.block)}`;
      case 'leakyRelu':
        return `a${i.alpha}`;
      case 'scale':
      case 'addScaled':
        return `s${i.s}`;
      default:
        return '';
    }
  };
  const body = instrs.map((i) => `${i.kind}${layer(i)}(${instrInputs(i).map(reg).join(',')})->${reg(i.out)}`).join(';');
  return `${body}|in ${loaded.map(reg).join(',')}|out ${stored.map(reg).join(',')}`;
}
