import type * as tf from '@tensorflow/tfjs-core';
import { type CompiledNetwork, type EngineInfo, type OnnxModel, type OnnxValue, type OrtSession, type WireTensor, compileNetwork, ortRuntime, recordOnnx, weightData } from '@stablesr/core';
import { type AttnBlock, attnBlockForward } from '../attnBlock.js';
import { type Instr, type Reg } from './program.js';
import { neededInputBox, stageRegions } from './regions.js';
import { type GroupMoments, type TileInputs, type TileOutputs, type TileStage, type TiledBackend, momentsKey } from './tiledBackend.js';
import { type Box, type TileGrid, tileCore } from './tileGrid.js';

/** The largest tile core of a grid (base-grid units): every tile of a stage runs one graph of this size. */
function maxCore(grid: TileGrid): [number, number] {
  const largest = (b: readonly number[]): number => Math.max(...b.slice(1).map((v, i) => v - b[i]!));
  return [largest(grid.rows), largest(grid.cols)];
}

const scaled = (b: Box, s: number): Box => ({ y0: b.y0 * s, y1: b.y1 * s, x0: b.x0 * s, x1: b.x1 * s });
const boxKey = (shift: number, b: Box): string => `${shift}:${b.y0},${b.y1},${b.x0},${b.x1}`;

/** A stage compiled for one tile size, and how to feed it for a given tile. */
interface StageGraph {
  readonly session: OrtSession;
  /** Values read from the host: input name, the value, its box relative to the tile's core origin. */
  readonly windows: { name: string; reg: Reg; box: Box }[];
  /** Where convs must see zeros beyond the map: row / column 0-1 vectors of a box at a level. */
  readonly masks: { rows: string; cols: string; shift: number; box: Box }[];
  /** GroupNorms with whole-image statistics: per-channel scale and shift inputs ([B, C]). */
  readonly norms: { scale: string; shift: string; ins: Instr & { kind: 'norm' } }[];
  /** Stored values: output name and level; their moments are taken over the tile's real core. */
  readonly outputs: { name: string; reg: Reg }[];
  readonly coreMasks: { rows: string; cols: string; shift: number }[];
  readonly moments: { mean: string; variance: string; invCount: string; reg: Reg; groups: number }[];
}

/**
 * Records a stage as an ONNX graph over fixed-size windows. Every tile of the grid runs the same graph: each value is
 * computed on the box a largest-core tile needs, unclipped, so that boxes and slices are the same for all tiles. What
 * varies from tile to tile comes in as inputs: windows read from the host (zeros beyond the map), 0-1 masks that zero a
 * conv's input beyond the map (the reference's zero padding, exactly as the untiled conv sees it), and masks that
 * select a smaller tile's real core for the statistics. Values beyond a smaller tile's core are exact neighbour
 * values, computed and dropped.
 */
function recordStage(name: string, stage: TileStage, batch: number, th: number, tw: number): { model: OnnxModel; plan: Omit<StageGraph, 'session'> } {
  const rec = recordOnnx(name);
  const { ops, graph: g } = rec;
  const core = (shift: number): Box => scaled({ y0: 0, y1: th, x0: 0, x1: tw }, 2 ** shift);
  const need = stageRegions(stage.instrs, new Map(stage.stored.map((r) => [r.id, core(r.shift)])));
  const plan: Omit<StageGraph, 'session'> = { windows: [], masks: [], norms: [], outputs: [], coreMasks: [], moments: [] };
  const vals = new Map<number, { v: OnnxValue; box: Box }>();
  const i64 = (v: readonly number[]): string => g.constant(v, 'int64');

  /** The part `want` of a value computed on `box`. */
  const cut = (v: OnnxValue, box: Box, want: Box): OnnxValue => {
    if (want.y0 < box.y0 || want.x0 < box.x0 || want.y1 > box.y1 || want.x1 > box.x1) throw new Error(`internal: region outside the computed box of ${v.name}`);
    if (want.y0 === box.y0 && want.y1 === box.y1 && want.x0 === box.x0 && want.x1 === box.x1) return v;
    const [b, , , c] = v.shape as [number, number, number, number];
    const dy = want.y0 - box.y0;
    const dx = want.x0 - box.x0;
    const h = want.y1 - want.y0;
    const w = want.x1 - want.x0;
    // Maps are NCHW inside the graph.
    return { name: g.node('Slice', [v.name, i64([dy, dx]), i64([dy + h, dx + w]), i64([2, 3])]), shape: [b, h, w, c], dtype: 'float32' };
  };
  const slice = (id: number, want: Box): OnnxValue => {
    const have = vals.get(id);
    if (!have) throw new Error(`internal: value ${id} not recorded`);
    return cut(have.v, have.box, want);
  };
  const maskNames = new Map<string, { rows: string; cols: string }>();
  const rowColInputs = (prefix: string, h: number, w: number): { rows: string; cols: string } => {
    const rows = g.input({ name: `${prefix}_rows`, dtype: 'float32', shape: [h, 1] });
    const cols = g.input({ name: `${prefix}_cols`, dtype: 'float32', shape: [w] });
    return { rows, cols };
  };
  const masked = (v: OnnxValue, shift: number, box: Box): OnnxValue => {
    const key = boxKey(shift, box);
    let m = maskNames.get(key);
    if (!m) {
      m = rowColInputs(`mask${maskNames.size}`, box.y1 - box.y0, box.x1 - box.x0);
      maskNames.set(key, m);
      plan.masks.push({ ...m, shift, box });
    }
    return { ...v, name: g.node('Mul', [g.node('Mul', [v.name, m.rows]), m.cols]) };
  };

  for (const r of stage.loaded) {
    const box = need.get(r.id);
    if (!box) continue;
    const name = `in${r.id}`;
    vals.set(r.id, { v: rec.input(name, [batch, box.y1 - box.y0, box.x1 - box.x0, r.channels]), box });
    plan.windows.push({ name, reg: r, box });
  }
  stage.instrs.forEach((ins, k) => {
    const o = need.get(ins.out.id);
    if (!o) return;
    let y: OnnxValue;
    switch (ins.kind) {
      case 'conv':
      case 'downsample': {
        const want = neededInputBox(ins, o);
        const x = masked(slice(ins.x.id, want), ins.x.shift, want);
        y = ops.conv2d({ ...ins.conv, padding: 0, stride: ins.kind === 'conv' ? 1 : 2 }, x);
        break;
      }
      case 'upsample': {
        const src = neededInputBox(ins, o);
        y = cut(ops.upsampleNearest2x(slice(ins.x.id, src)), scaled(src, 2), o);
        break;
      }
      case 'norm': {
        const scale = rec.input(`norm${k}_scale`, [batch, ins.x.channels]);
        const shift = rec.input(`norm${k}_shift`, [batch, ins.x.channels]);
        plan.norms.push({ scale: scale.name, shift: shift.name, ins });
        y = ops.addVector(ops.mulVector(slice(ins.x.id, o), scale), shift);
        break;
      }
      case 'silu':
        y = ops.silu(slice(ins.x.id, o));
        break;
      case 'leakyRelu':
        y = ops.leakyRelu(slice(ins.x.id, o), ins.alpha);
        break;
      case 'scale':
        y = ops.scale(slice(ins.x.id, o), ins.s);
        break;
      case 'add':
        y = ops.add(slice(ins.a.id, o), slice(ins.b.id, o));
        break;
      case 'addScaled':
        y = ops.add(slice(ins.a.id, o), ops.scale(slice(ins.b.id, o), ins.s));
        break;
      case 'concat':
        y = ops.concat(ins.xs.map((x) => slice(x.id, o)));
        break;
      case 'attention':
        throw new Error('internal: attention inside a tiled stage');
    }
    vals.set(ins.out.id, { v: y, box: o });
  });

  const coreMaskNames = new Map<number, { rows: string; cols: string }>();
  for (const r of stage.stored) {
    const c = core(r.shift);
    const v = slice(r.id, c);
    const name = `out${r.id}`;
    rec.output(name, v);
    plan.outputs.push({ name, reg: r });
    const groups = stage.momentGroups.get(r.id) ?? [];
    if (!groups.length) continue;
    let m = coreMaskNames.get(r.shift);
    if (!m) {
      m = rowColInputs(`core${r.shift}`, c.y1 - c.y0, c.x1 - c.x0);
      coreMaskNames.set(r.shift, m);
      plan.coreMasks.push({ ...m, shift: r.shift });
    }
    for (const G of groups) {
      // Two-pass moments over the real core: mean = Σ(x·m)/n, variance = Σ((x − mean)·m)²/n.
      const [b, h, w, ch] = v.shape as [number, number, number, number];
      const invCount = g.input({ name: `inv${r.id}_${G}`, dtype: 'float32', shape: [1] });
      const x5 = g.node('Reshape', [v.name, i64([b, G, ch / G, h, w])]);
      const sum = (t: string): string => g.node('ReduceSum', [g.node('Mul', [g.node('Mul', [t, m!.rows]), m!.cols]), i64([2, 3, 4])], 1, { keepdims: 1 });
      const mean = g.node('Mul', [sum(x5), invCount]);
      const d = g.node('Sub', [x5, mean]);
      const variance = g.node('Mul', [sum(g.node('Mul', [d, d])), invCount]);
      const meanName = `mean${r.id}_${G}`;
      const varName = `var${r.id}_${G}`;
      rec.output(meanName, { name: g.node('Reshape', [mean, i64([b, G])]), shape: [b, G], dtype: 'float32' });
      rec.output(varName, { name: g.node('Reshape', [variance, i64([b, G])]), shape: [b, G], dtype: 'float32' });
      plan.moments.push({ mean: meanName, variance: varName, invCount, reg: r, groups: G });
    }
  }
  return { model: rec.build(), plan };
}

/** 1 where `offset + i` lies in [lo, hi), else 0. */
function band(n: number, offset: number, lo: number, hi: number): Float32Array {
  const m = new Float32Array(n);
  for (let i = 0; i < n; i++) if (offset + i >= lo && offset + i < hi) m[i] = 1;
  return m;
}

/** Per-channel scale and shift [B, C] that apply a GroupNorm with the given whole-image statistics. */
function normScaleShift(ins: Instr & { kind: 'norm' }, s: GroupMoments, batch: number): { scale: Float32Array; shift: Float32Array } {
  const c = ins.x.channels;
  const G = ins.norm.groups;
  const gamma = weightData(ins.norm.gamma);
  const beta = weightData(ins.norm.beta);
  const scale = new Float32Array(batch * c);
  const shift = new Float32Array(batch * c);
  for (let b = 0; b < batch; b++) {
    for (let ch = 0; ch < c; ch++) {
      const k = b * G + Math.floor(ch / (c / G));
      const inv = 1 / Math.sqrt(s.variance[k]! + ins.norm.eps);
      scale[b * c + ch] = gamma[ch]! * inv;
      shift[b * c + ch] = beta[ch]! - s.mean[k]! * gamma[ch]! * inv;
    }
  }
  return { scale, shift };
}

/** Copies the top-left `h × w` block of an NHWC `[B, H, W, C]` array. */
function topLeft(data: Float32Array, batch: number, H: number, W: number, C: number, h: number, w: number): Float32Array {
  if (h === H && w === W) return data;
  const out = new Float32Array(batch * h * w * C);
  for (let b = 0; b < batch; b++) for (let y = 0; y < h; y++) out.set(data.subarray(((b * H + y) * W) * C, ((b * H + y) * W + w) * C), ((b * h + y) * w) * C);
  return out;
}

/**
 * Stages on ONNX Runtime: one session per stage and tile size (all tiles of a grid share it), built on first use and
 * kept for the backend's lifetime, and one network per whole-map attention block. `name` prefixes the graphs' names
 * (errors name the stage and node).
 */
export function onnxTiledBackend(name: string, engine: EngineInfo): TiledBackend {
  if (engine.engine !== 'onnxruntime') throw new Error(`onnxTiledBackend needs the onnxruntime engine, got ${engine.engine}`);
  const graphs = new Map<string, Promise<StageGraph>>();
  const stageNames = new Map<string, number>();
  const attention = new Map<AttnBlock, CompiledNetwork>();
  const stageGraph = (stage: TileStage, batch: number, th: number, tw: number): Promise<StageGraph> => {
    const key = `${stage.key}|B${batch}|${th}x${tw}`;
    let graph = graphs.get(key);
    if (!graph) {
      let index = stageNames.get(stage.key);
      if (index === undefined) stageNames.set(stage.key, (index = stageNames.size));
      const { model, plan } = recordStage(`${name} stage ${index}`, stage, batch, th, tw);
      graph = ortRuntime()
        .createSession(`${name} stage ${index}`, model, { threads: engine.threads, device: engine.provider as 'cpu' | 'cuda', disablePrepacking: !engine.prepack, optimization: 'all', memoryArena: false })
        .then((session) => ({ ...plan, session }));
      graph.catch(() => graphs.delete(key));
      graphs.set(key, graph);
    }
    return graph;
  };
  return {
    runTile: async (stage: TileStage, input: TileInputs): Promise<TileOutputs> => {
      const { grid, tile, batch } = input;
      const [th, tw] = maxCore(grid);
      const sg = await stageGraph(stage, batch, th, tw);
      const base = tileCore(grid, tile, 0);
      const origin = (shift: number): { y: number; x: number } => ({ y: base.y0 * 2 ** shift, x: base.x0 * 2 ** shift });
      const feeds: Record<string, WireTensor> = {};
      const f32 = (dims: number[], data: Float32Array): WireTensor => ({ type: 'float32', dims, data });
      for (const w of sg.windows) {
        const o = origin(w.reg.shift);
        const abs = { y0: w.box.y0 + o.y, y1: w.box.y1 + o.y, x0: w.box.x0 + o.x, x1: w.box.x1 + o.x };
        feeds[w.name] = f32([batch, w.box.y1 - w.box.y0, w.box.x1 - w.box.x0, w.reg.channels], input.host(w.reg).readWindow(abs, true));
      }
      for (const m of sg.masks) {
        const o = origin(m.shift);
        const s = 2 ** m.shift;
        feeds[m.rows] = f32([m.box.y1 - m.box.y0, 1], band(m.box.y1 - m.box.y0, m.box.y0 + o.y, 0, grid.height * s));
        feeds[m.cols] = f32([m.box.x1 - m.box.x0], band(m.box.x1 - m.box.x0, m.box.x0 + o.x, 0, grid.width * s));
      }
      for (const n of sg.norms) {
        const { scale, shift } = normScaleShift(n.ins, input.stats(n.ins), batch);
        feeds[n.scale] = f32([batch, n.ins.x.channels], scale);
        feeds[n.shift] = f32([batch, n.ins.x.channels], shift);
      }
      const coreSize = (shift: number): [number, number] => [(base.y1 - base.y0) * 2 ** shift, (base.x1 - base.x0) * 2 ** shift];
      for (const m of sg.coreMasks) {
        const [h, w] = coreSize(m.shift);
        const s = 2 ** m.shift;
        feeds[m.rows] = f32([th * s, 1], band(th * s, 0, 0, h));
        feeds[m.cols] = f32([tw * s], band(tw * s, 0, 0, w));
      }
      for (const m of sg.moments) {
        const [h, w] = coreSize(m.reg.shift);
        feeds[m.invCount] = f32([1], Float32Array.of(1 / (h * w * (m.reg.channels / m.groups))));
      }
      const { outputs } = await sg.session.run(feeds);
      const cores = sg.outputs.map(({ name: out, reg }) => {
        const s = 2 ** reg.shift;
        const [h, w] = coreSize(reg.shift);
        return topLeft(outputs[out]!.data as Float32Array, batch, th * s, tw * s, reg.channels, h, w);
      });
      const moments = new Map<string, GroupMoments>();
      for (const m of sg.moments) moments.set(momentsKey(m.reg, m.groups), { mean: outputs[m.mean]!.data as Float32Array, variance: outputs[m.variance]!.data as Float32Array });
      return { cores, moments };
    },
    attention: async (block, x) => {
      let net = attention.get(block);
      if (!net) {
        net = compileNetwork({ name: `${name} attention`, module: block, forward: (ops, [v]) => [attnBlockForward(ops, block, v!)] }, engine);
        attention.set(block, net);
      }
      const [y] = await net.run([x]);
      return y as tf.Tensor4D;
    },
    dispose: async () => {
      const all = [...graphs.values()];
      graphs.clear();
      await Promise.all(all.map((g) => g.then((s) => s.session.release(), () => {})));
      await Promise.all([...attention.values()].map((n) => n.dispose()));
      attention.clear();
    },
  };
}
