import onnxProto from 'onnx-proto';
import { hwioToOihw } from '../weights/filterLayout.js';

const { onnx } = onnxProto;

/** Element types the graphs use. */
export type OnnxDType = 'float32' | 'int32' | 'int64';

const ELEM: Record<OnnxDType, number> = { float32: onnx.TensorProto.DataType.FLOAT, int32: onnx.TensorProto.DataType.INT32, int64: onnx.TensorProto.DataType.INT64 };

/** Initializers at or above this size travel as in-memory external data instead of inside the protobuf (whose messages stop at 2 GiB). */
const EXTERNAL_BYTES = 1024;

type AttrValue = number | string | readonly number[] | { float: number } | { floats: readonly number[] };

/**
 * An external initializer's bytes. With `hwioToOihw` they are a conv filter still in the tfjs layout (HWIO, these dims):
 * the runtime converts it to OIHW in its own thread, so that recording a large network does not hold up the caller's.
 */
export interface ExternalInitializer {
  path: string;
  data: Uint8Array;
  hwioToOihw?: [number, number, number, number];
}

/** Bytes of an ONNX model and the buffers its external initializers point to (`SessionOptions.externalData`). */
export interface OnnxModel {
  readonly bytes: Uint8Array;
  readonly externalData: ExternalInitializer[];
  /** Bytes of all initializers. */
  readonly weightBytes: number;
  /** Graph nodes, for messages. */
  readonly nodeCount: number;
  /** Buffers made for this model alone (converted layouts, masks): a runtime may take them over (transfer). */
  readonly ownedBuffers: ArrayBufferLike[];
}

/** A graph input or output: name, element type and the physical shape the engine feeds or returns. */
export interface OnnxPort {
  readonly name: string;
  readonly dtype: OnnxDType;
  readonly shape: readonly number[];
}

function attribute(name: string, v: AttrValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') return Number.isInteger(v) ? { name, type: T.INT, i: v } : { name, type: T.FLOAT, f: v };
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if ('float' in v) return { name, type: T.FLOAT, f: v.float };
  if ('floats' in v) return { name, type: T.FLOATS, floats: [...v.floats] };
  return { name, type: T.INTS, ints: [...(v as readonly number[])] };
}

function bytesOf(data: Float32Array | Int32Array | BigInt64Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Records an ONNX graph (opset 17, static shapes) node by node and serialises it with `onnx-proto`.
 * Large initializers are not copied into the protobuf: they stay the caller's buffers and are handed to
 * ONNX Runtime as in-memory external data.
 */
export class OnnxGraphBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly inits: onnxProto.onnx.ITensorProto[] = [];
  private readonly external: ExternalInitializer[] = [];
  private readonly owned: ArrayBufferLike[] = [];
  private readonly inputs: OnnxPort[] = [];
  private readonly outputs: OnnxPort[] = [];
  private weightBytes = 0;
  private next = 0;
  private readonly constants = new Map<string, string>();

  constructor(readonly name: string) {}

  /** A fresh value name. */
  fresh(hint: string): string {
    return `${hint}_${this.next++}`;
  }

  input(port: OnnxPort): string {
    this.inputs.push(port);
    return port.name;
  }

  output(value: string, port: OnnxPort): void {
    this.node('Identity', [value], [port.name]);
    this.outputs.push(port);
  }

  /** Adds a node; returns its first output's name. Node names carry the network's name, so ORT errors say where. */
  node(op: string, inputs: readonly string[], outputs: readonly string[] | number = 1, attrs: Record<string, AttrValue> = {}, domain = ''): string {
    const outs = typeof outputs === 'number' ? Array.from({ length: outputs }, () => this.fresh(op)) : [...outputs];
    this.nodes.push({
      name: `${this.name}/${op}_${this.nodes.length}`,
      opType: op,
      domain,
      input: [...inputs],
      output: outs,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outs[0]!;
  }

  /** Outputs of the last node added (for multi-output ops such as Split). */
  lastOutputs(): string[] {
    return [...(this.nodes[this.nodes.length - 1]!.output ?? [])];
  }

  /**
   * An initializer from a typed array (kept by reference when large). `owned`: the array was made for this
   * graph and nothing else holds it. `hwio`: `data` is a conv filter in HWIO order with these dims, to become the
   * OIHW `dims` (see {@link ExternalInitializer}).
   */
  initializer(hint: string, data: Float32Array | Int32Array | BigInt64Array, dims: readonly number[], owned = false, hwio?: [number, number, number, number]): string {
    const n = dims.reduce((a, b) => a * b, 1);
    if (n !== data.length) throw new Error(`${this.name}: initializer ${hint} has ${data.length} values for dims [${dims}]`);
    const name = this.fresh(hint);
    const dataType = data instanceof Float32Array ? ELEM.float32 : data instanceof Int32Array ? ELEM.int32 : ELEM.int64;
    let raw = bytesOf(data);
    this.weightBytes += raw.byteLength;
    if (raw.byteLength >= EXTERNAL_BYTES) {
      const path = `${name}.bin`;
      this.external.push({ path, data: raw, ...(hwio ? { hwioToOihw: hwio } : {}) });
      if (owned) this.owned.push(data.buffer);
      this.inits.push({
        name,
        dims: [...dims],
        dataType,
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: 'location', value: path },
          { key: 'offset', value: '0' },
          { key: 'length', value: String(raw.byteLength) },
        ],
      });
    } else {
      if (hwio) raw = bytesOf(hwioToOihw(data as Float32Array, hwio));
      this.inits.push({ name, dims: [...dims], dataType, rawData: raw.slice() });
    }
    return name;
  }

  /** A small constant (shapes, axes, scalars), deduplicated. */
  constant(values: readonly number[], dtype: OnnxDType, dims: readonly number[] = [values.length]): string {
    const key = `${dtype}:${dims}:${values.join(',')}`;
    let name = this.constants.get(key);
    if (!name) {
      const data = dtype === 'float32' ? Float32Array.from(values) : dtype === 'int32' ? Int32Array.from(values) : BigInt64Array.from(values.map((v) => BigInt(v)));
      name = this.initializer('const', data, dims);
      this.constants.set(key, name);
    }
    return name;
  }

  /** Serialises the model. */
  build(): OnnxModel {
    const valueInfo = (p: OnnxPort): onnxProto.onnx.IValueInfoProto => ({
      name: p.name,
      type: { tensorType: { elemType: ELEM[p.dtype], shape: { dim: p.shape.map((d) => ({ dimValue: d })) } } },
    });
    const model: onnxProto.onnx.IModelProto = {
      irVersion: 8,
      producerName: 'stablesr',
      opsetImport: [{ domain: '', version: 17 }],
      graph: { name: this.name, node: this.nodes, initializer: this.inits, input: this.inputs.map(valueInfo), output: this.outputs.map(valueInfo) },
    };
    return { bytes: onnx.ModelProto.encode(model).finish(), externalData: this.external, weightBytes: this.weightBytes, nodeCount: this.nodes.length, ownedBuffers: this.owned };
  }
}
