import type * as tf from '@tensorflow/tfjs-core';
import { type Conv2d } from '../nn/conv2d.js';
import { causalMaskData } from '../nn/attention.js';
import { weightData } from '../nn/hostWeights.js';
import { type OnnxDType, OnnxGraphBuilder, type OnnxModel } from './onnxGraph.js';
import { type AttentionOptions, type LinearAttentionOptions, type Ops } from './ops.js';
import { blockShape } from './blockShape.js';

/**
 * A value of the graph being recorded: its name, logical shape (maps [B, H, W, C], tokens [B, N, C]) and type.
 * Rank-4 values are feature maps and are stored NCHW in the graph; everything else is stored as it reads.
 */
export interface OnnxValue {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: OnnxDType;
}

/** The default bound on one attention score block before queries are split into chunks (256 MiB). */
export const ONNX_SCORE_BUDGET_BYTES = 256 * 2 ** 20;

const isMap = (v: OnnxValue): boolean => v.shape.length === 4;
const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

/** Recording {@link Ops} plus the graph's inputs and outputs. */
export interface OnnxRecorder {
  readonly ops: Ops<OnnxValue>;
  readonly graph: OnnxGraphBuilder;
  /** A graph input fed in the logical layout (maps NHWC; transposed to NCHW inside). */
  input(name: string, shape: readonly number[], dtype?: OnnxDType): OnnxValue;
  /** Marks a value as a graph output, returned in the logical layout. */
  output(name: string, v: OnnxValue): void;
  build(): OnnxModel;
}

/**
 * Starts recording a network as an ONNX graph. Weights become initializers read from the modules' tensors
 * ({@link weightData}: host-held weights are not copied unless their layout changes); each tensor is converted once
 * per layout even when several layers share it.
 */
export function recordOnnx(networkName: string): OnnxRecorder {
  const g = new OnnxGraphBuilder(networkName);
  const weights = new Map<tf.Tensor, Map<string, string>>();
  const weightAs = (t: tf.Tensor, layout: string, make: () => { data: Float32Array | Int32Array; dims: number[]; owned?: boolean; hwio?: [number, number, number, number] }): string => {
    let byLayout = weights.get(t);
    if (!byLayout) weights.set(t, (byLayout = new Map()));
    let name = byLayout.get(layout);
    if (!name) {
      const { data, dims, owned, hwio } = make();
      name = g.initializer('w', data, dims, owned, hwio);
      byLayout.set(layout, name);
    }
    return name;
  };
  const asIs = (t: tf.Tensor): string => weightAs(t, 'as-is', () => ({ data: weightData(t), dims: [...t.shape] }));
  /** A [C] parameter broadcasting over NCHW: [C, 1, 1] (same data). */
  const perChannel = (t: tf.Tensor): string => weightAs(t, 'c11', () => ({ data: weightData(t), dims: [t.shape[0]!, 1, 1] }));
  /** tfjs keeps conv filters HWIO; ONNX wants OIHW: the runtime converts them off this thread. */
  const convFilter = (c: Conv2d): string => {
    const hwio = c.weight.shape as [number, number, number, number];
    return weightAs(c.weight, 'oihw', () => ({ data: weightData(c.weight), dims: [hwio[3], hwio[2], hwio[0], hwio[1]], hwio }));
  };

  const val = (name: string, shape: readonly number[], dtype: OnnxDType = 'float32'): OnnxValue => ({ name, shape, dtype });
  const i64 = (values: readonly number[]): string => g.constant(values, 'int64');
  const f32 = (v: number): string => g.constant([v], 'float32', []);
  const reshape = (name: string, dims: readonly number[]): string => g.node('Reshape', [name, i64(dims)]);
  const transpose = (name: string, perm: readonly number[]): string => g.node('Transpose', [name], 1, { perm });
  const unary = (op: string) => (x: OnnxValue): OnnxValue => val(g.node(op, [x.name]), x.shape, x.dtype);
  const binary = (op: string, what: string) => (a: OnnxValue, b: OnnxValue): OnnxValue => {
    if (!sameShape(a.shape, b.shape)) {
      // A weight of the last axis (or a [N, C] table) broadcasts over the batch of tokens and vectors.
      const tail = a.shape.slice(a.shape.length - b.shape.length);
      if (isMap(a) || isMap(b) || b.shape.length >= a.shape.length || !sameShape(tail, b.shape)) {
        throw new Error(`${networkName}: ${what} of shapes [${a.shape}] and [${b.shape}]`);
      }
    }
    return val(g.node(op, [a.name, b.name]), a.shape);
  };
  /** A [B, C] vector reshaped to broadcast over a map's (NCHW) or tokens' positions. */
  const overPositions = (x: OnnxValue, v: OnnxValue, what: string): string => {
    const [b, c] = v.shape;
    const cx = x.shape[x.shape.length - 1];
    if (v.shape.length !== 2 || b !== x.shape[0] || c !== cx) throw new Error(`${networkName}: ${what} of a [${v.shape}] vector onto [${x.shape}]`);
    return reshape(v.name, isMap(x) ? [b!, c!, 1, 1] : [b!, ...x.shape.slice(1, -1).map(() => 1), c!]);
  };

  const attentionChunk = (qh: string, kt: string, vh: string, o: AttentionOptions, rows: number, nk: number, r0: number, n: number): string => {
    let q = qh;
    if (n !== rows) q = g.node('Slice', [qh, i64([r0]), i64([r0 + n]), i64([2])]);
    let scores = g.node('MatMul', [q, kt]); // [B, H, n, Nk]
    if (o.causal) {
      scores = g.node('Add', [scores, g.initializer('causal', causalMaskData(n, nk, r0), [n, nk], true)]);
    }
    return g.node('MatMul', [g.node('Softmax', [scores], 1, { axis: -1 }), vh]); // [B, H, n, dv]
  };

  const ops: Ops<OnnxValue> = {
    engine: 'onnx',
    shape: (x) => x.shape,
    weight: (t) => val(asIs(t), t.shape, t.dtype === 'int32' ? 'int32' : 'float32'),
    conv2d: (c, x) => {
      const [b, h, w, ci] = x.shape as [number, number, number, number];
      if (ci !== c.inChannels) throw new Error(`${networkName}: conv expects ${c.inChannels} input channels, got ${ci}`);
      const [[top, bottom], [left, right]] = typeof c.padding === 'number' ? [[c.padding, c.padding], [c.padding, c.padding]] : c.padding;
      const k = c.kernelSize;
      const span = c.dilation * (k - 1) + 1;
      const oh = Math.floor((h + top + bottom - span) / c.stride) + 1;
      const ow = Math.floor((w + left + right - span) / c.stride) + 1;
      const inputs = [x.name, convFilter(c), ...(c.bias ? [asIs(c.bias)] : [])];
      const y = g.node('Conv', inputs, 1, { kernel_shape: [k, k], strides: [c.stride, c.stride], dilations: [c.dilation, c.dilation], pads: [top, left, bottom, right] });
      return val(y, [b, oh, ow, c.outChannels]);
    },
    groupNorm: (n, x) => {
      const [b, h, w, c] = x.shape as [number, number, number, number];
      if (c !== n.channels) throw new Error(`${networkName}: GroupNorm of ${n.channels} channels applied to ${c}`);
      // InstanceNormalization over [B, G, C/G·H·W] is GroupNorm without its affine part (ONNX's own GroupNormalization
      // is opset 18+ and ORT's contrib GroupNorm is CUDA-only).
      const grouped = reshape(x.name, [b, n.groups, (c / n.groups) * h * w]);
      const ones = g.constant(new Array(n.groups).fill(1), 'float32');
      const zeros = g.constant(new Array(n.groups).fill(0), 'float32');
      const normed = reshape(g.node('InstanceNormalization', [grouped, ones, zeros], 1, { epsilon: { float: n.eps } }), [b, c, h, w]);
      return val(g.node('Add', [g.node('Mul', [normed, perChannel(n.gamma)]), perChannel(n.beta)]), x.shape);
    },
    upsampleNearest2x: (x) => ops.resizeNearest(x, 2 * x.shape[1]!, 2 * x.shape[2]!),
    resizeNearest: (x, height, width) => {
      const [b, , , c] = x.shape as [number, number, number, number];
      // PyTorch "nearest": source index floor(dst · in/out), which is ONNX's asymmetric transform with floor.
      const y = g.node('Resize', [x.name, '', '', i64([b, c, height, width])], 1, { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' });
      return val(y, [b, height, width, c]);
    },
    avgPool2x: (x) => {
      const [b, h, w, c] = x.shape as [number, number, number, number];
      return val(g.node('AveragePool', [x.name], 1, { kernel_shape: [2, 2], strides: [2, 2] }), [b, Math.floor(h / 2), Math.floor(w / 2), c]);
    },
    reflectPad: (x, [[top, bottom], [left, right]]) => {
      const [b, h, w, c] = x.shape as [number, number, number, number];
      if (Math.max(top, bottom) >= h || Math.max(left, right) >= w) throw new Error(`${networkName}: reflectPad [[${top}, ${bottom}], [${left}, ${right}]] on a ${h}×${w} map (each amount must be smaller than its side)`);
      // NCHW pads: [begin N, C, H, W, end N, C, H, W].
      const y = g.node('Pad', [x.name, i64([0, 0, top, left, 0, 0, bottom, right])], 1, { mode: 'reflect' });
      return val(y, [b, h + top + bottom, w + left + right, c]);
    },
    spaceToDepth: (x, r) => {
      const [b, h, w, c] = blockShape(`${networkName}: spaceToDepth`, x.shape, r, false);
      return val(g.node('SpaceToDepth', [x.name], 1, { blocksize: r }), [b, h / r, w / r, c * r * r]);
    },
    depthToSpace: (x, r) => {
      const [b, h, w, c] = blockShape(`${networkName}: depthToSpace`, x.shape, r, true);
      return val(g.node('DepthToSpace', [x.name], 1, { blocksize: r, mode: 'DCR' }), [b, h * r, w * r, c / (r * r)]);
    },
    crop: (x, top, left, height, width) => {
      const [b, h, w, c] = x.shape as [number, number, number, number];
      if (top < 0 || left < 0 || top + height > h || left + width > w) throw new Error(`${networkName}: crop ${height}×${width} at (${top}, ${left}) of a ${h}×${w} map`);
      return val(g.node('Slice', [x.name, i64([top, left]), i64([top + height, left + width]), i64([2, 3])]), [b, height, width, c]);
    },
    toTokens: (x) => {
      const [b, h, w, c] = x.shape as [number, number, number, number];
      return val(transpose(reshape(x.name, [b, c, h * w]), [0, 2, 1]), [b, h * w, c]);
    },
    fromTokens: (t, height, width) => {
      const [b, n, c] = t.shape as [number, number, number];
      if (n !== height * width) throw new Error(`${networkName}: fromTokens: ${n} tokens do not make a ${height}×${width} map`);
      return val(reshape(transpose(t.name, [0, 2, 1]), [b, c, height, width]), [b, height, width, c]);
    },
    linear: (l, x) => {
      const c = x.shape[x.shape.length - 1];
      if (c !== l.inFeatures) throw new Error(`${networkName}: linear expects ${l.inFeatures} features, got ${c}`);
      const y = g.node('MatMul', [x.name, asIs(l.weight)]);
      return val(l.bias ? g.node('Add', [y, asIs(l.bias)]) : y, [...x.shape.slice(0, -1), l.outFeatures]);
    },
    layerNorm: (n, x) => {
      const norm = (name: string): string => g.node('LayerNormalization', [name, asIs(n.gamma), asIs(n.beta)], 1, { axis: -1, epsilon: { float: n.eps } });
      // A map is stored NCHW: its channels become the last axis for the normalisation and go back after.
      return val(isMap(x) ? transpose(norm(transpose(x.name, [0, 2, 3, 1])), [0, 3, 1, 2]) : norm(x.name), x.shape);
    },
    attention: (q, k, v, o) => {
      const [b, nq, cq] = q.shape as [number, number, number];
      const [bk, nk, ck] = k.shape as [number, number, number];
      const [bv, nv, cv] = v.shape as [number, number, number];
      if (bk !== b || bv !== b || nv !== nk || cq !== ck || cq % o.heads !== 0 || cv % o.heads !== 0) {
        throw new Error(`${networkName}: attention of q [${q.shape}], k [${k.shape}], v [${v.shape}] with ${o.heads} heads`);
      }
      const hd = o.heads;
      const d = cq / hd;
      const dv = cv / hd;
      // [B, N, H·d] → [B, H, N, d]; keys as [B, H, d, Nk] so the scores are one MatMul.
      const qh = transpose(reshape(g.node('Mul', [q.name, f32(o.scale)]), [b, nq, hd, d]), [0, 2, 1, 3]);
      const kt = transpose(reshape(k.name, [b, nk, hd, d]), [0, 2, 3, 1]);
      const vh = transpose(reshape(v.name, [b, nk, hd, dv]), [0, 2, 1, 3]);
      const budget = o.scoreBudgetBytes ?? ONNX_SCORE_BUDGET_BYTES;
      const rows = Math.max(1, Math.min(nq, Math.floor(budget / (4 * b * hd * nk))));
      const chunks: string[] = [];
      for (let r0 = 0; r0 < nq; r0 += rows) chunks.push(attentionChunk(qh, kt, vh, o, nq, nk, r0, Math.min(rows, nq - r0)));
      const out = chunks.length === 1 ? chunks[0]! : g.node('Concat', chunks, 1, { axis: 2 });
      return val(reshape(transpose(out, [0, 2, 1, 3]), [b, nq, hd * dv]), [b, nq, hd * dv]);
    },
    linearAttention: (q, k, v, o: LinearAttentionOptions) => {
      const [b, n, c] = q.shape as [number, number, number];
      const ev = v.shape[2]!;
      if (!sameShape(k.shape, q.shape) || v.shape[0] !== b || v.shape[1] !== n || c % o.heads !== 0 || ev % o.heads !== 0) {
        throw new Error(`${networkName}: linearAttention of q [${q.shape}], k [${k.shape}], v [${v.shape}] with ${o.heads} heads`);
      }
      const hd = o.heads;
      const d = c / hd;
      const e = ev / hd;
      // Queries [B, H, N, d] softmaxed over d, keys [B, H, d, N] over positions; context kᵀv is [B, H, d, e].
      const qh = g.node('Mul', [g.node('Softmax', [transpose(reshape(q.name, [b, n, hd, d]), [0, 2, 1, 3])], 1, { axis: -1 }), f32(o.scale)]);
      const kh = g.node('Softmax', [transpose(reshape(k.name, [b, n, hd, d]), [0, 2, 3, 1])], 1, { axis: -1 });
      const vh = transpose(reshape(v.name, [b, n, hd, e]), [0, 2, 1, 3]);
      const out = g.node('MatMul', [qh, g.node('MatMul', [kh, vh])]); // [B, H, N, e]
      return val(reshape(transpose(out, [0, 2, 1, 3]), [b, n, hd * e]), [b, n, hd * e]);
    },
    embedding: (table, ids) => val(g.node('Gather', [asIs(table), ids.name], 1, { axis: 0 }), [...ids.shape, table.shape[1]!]),
    add: binary('Add', 'add'),
    sub: binary('Sub', 'sub'),
    mul: binary('Mul', 'mul'),
    scale: (x, s) => val(g.node('Mul', [x.name, f32(s)]), x.shape),
    addScalar: (x, s) => val(g.node('Add', [x.name, f32(s)]), x.shape),
    addVector: (x, v) => val(g.node('Add', [x.name, overPositions(x, v, 'addVector')]), x.shape),
    mulVector: (x, v) => val(g.node('Mul', [x.name, overPositions(x, v, 'mulVector')]), x.shape),
    silu: (x) => val(g.node('Mul', [x.name, g.node('Sigmoid', [x.name])]), x.shape),
    gelu: (x) => {
      // x·½(1 + erf(x/√2)); ONNX Runtime fuses this pattern into its Gelu kernel.
      const erf = g.node('Erf', [g.node('Div', [x.name, f32(Math.SQRT2)])]);
      return val(g.node('Mul', [g.node('Mul', [x.name, g.node('Add', [erf, f32(1)])]), f32(0.5)]), x.shape);
    },
    quickGelu: (x) => val(g.node('Mul', [x.name, g.node('Sigmoid', [g.node('Mul', [x.name, f32(1.702)])])]), x.shape),
    relu: unary('Relu'),
    leakyRelu: (x, alpha) => val(g.node('LeakyRelu', [x.name], 1, { alpha: { float: alpha } }), x.shape),
    concat: (xs) => {
      const first = xs[0];
      if (!first) throw new Error(`${networkName}: concat of nothing`);
      for (const x of xs) {
        if (!sameShape(x.shape.slice(0, -1), first.shape.slice(0, -1))) throw new Error(`${networkName}: concat of [${first.shape}] and [${x.shape}]`);
      }
      const c = xs.reduce((a, x) => a + x.shape[x.shape.length - 1]!, 0);
      return val(g.node('Concat', xs.map((x) => x.name), 1, { axis: isMap(first) ? 1 : -1 }), [...first.shape.slice(0, -1), c]);
    },
    split: (x, parts, groups = 1) => {
      const c = x.shape[x.shape.length - 1]!;
      if (c % (parts * groups) !== 0) throw new Error(`${networkName}: split: ${c} channels do not split into ${groups} groups of ${parts} parts`);
      const d = c / (parts * groups);
      const outShape = [...x.shape.slice(0, -1), groups * d];
      if (groups === 1) {
        g.node('Split', [x.name, i64(new Array(parts).fill(d))], parts, { axis: isMap(x) ? 1 : -1 });
        return g.lastOutputs().map((n) => val(n, outShape));
      }
      if (isMap(x)) throw new Error(`${networkName}: grouped split of a feature map`);
      const lead = x.shape.slice(0, -1);
      g.node('Split', [reshape(x.name, [...lead, groups, parts * d]), i64(new Array(parts).fill(d))], parts, { axis: -1 });
      return g.lastOutputs().map((n) => val(reshape(n, outShape), outShape));
    },
    scope: (fn) => fn(),
    release: () => {},
  };
  return {
    ops,
    graph: g,
    input: (name, shape, dtype = 'float32') => {
      const v = val(name, shape, dtype);
      g.input({ name, dtype, shape });
      return isMap(v) ? val(transpose(name, [0, 3, 1, 2]), shape, dtype) : v;
    },
    output: (name, v) => {
      const out = isMap(v) ? transpose(v.name, [0, 2, 3, 1]) : v.name;
      g.output(out, { name, dtype: v.dtype, shape: v.shape });
    },
    build: () => g.build(),
  };
}

