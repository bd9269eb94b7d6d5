import * as tf from '@tensorflow/tfjs-core';
import { type Box, type TileGrid, tileCore, tileCount } from './tileGrid.js';

/**
 * A whole-image feature map kept outside the tensor backend, split by tile cores (NHWC per core).
 * The tiled executor parks values here between GroupNorm syncs, so the backend only ever holds one
 * tile's working set; windows with a halo are read back from the neighbouring cores.
 */
export class HostFeature {
  readonly height: number;
  readonly width: number;
  private readonly cores: (Float32Array | undefined)[];
  private readonly rowB: number[];
  private readonly colB: number[];

  constructor(
    readonly grid: TileGrid,
    readonly shift: number,
    readonly batch: number,
    readonly channels: number,
  ) {
    const s = 2 ** shift;
    this.height = grid.height * s;
    this.width = grid.width * s;
    this.rowB = grid.rows.map((v) => v * s);
    this.colB = grid.cols.map((v) => v * s);
    this.cores = new Array<Float32Array | undefined>(tileCount(grid)).fill(undefined);
  }

  /** Bytes held. */
  get bytes(): number {
    return this.cores.reduce((a, c) => a + (c ? c.byteLength : 0), 0);
  }

  setCore(t: number, data: Float32Array): void {
    const b = tileCore(this.grid, t, this.shift);
    const expected = this.batch * (b.y1 - b.y0) * (b.x1 - b.x0) * this.channels;
    if (data.length !== expected) throw new Error(`tile ${t}: core has ${data.length} values, expected ${expected}`);
    this.cores[t] = data;
  }

  /**
   * Values of a box, NHWC `[B, y1−y0, x1−x0, C]`, gathered from every core it overlaps. The box must lie inside
   * the map unless `zerosOutside`, which reads zeros beyond it.
   */
  readWindow(box: Box, zerosOutside = false): Float32Array {
    const { y0, y1, x0, x1 } = box;
    if (y0 >= y1 || x0 >= x1 || (!zerosOutside && (y0 < 0 || x0 < 0 || y1 > this.height || x1 > this.width))) {
      throw new Error(`window [${y0},${y1})×[${x0},${x1}) outside the ${this.height}×${this.width} map`);
    }
    const C = this.channels;
    const wh = y1 - y0;
    const ww = x1 - x0;
    const out = new Float32Array(this.batch * wh * ww * C);
    const nc = this.colB.length - 1;
    for (let r = 0; r < this.rowB.length - 1; r++) {
      const ry0 = Math.max(y0, this.rowB[r]!);
      const ry1 = Math.min(y1, this.rowB[r + 1]!);
      if (ry0 >= ry1) continue;
      const ch = this.rowB[r + 1]! - this.rowB[r]!;
      for (let c = 0; c < nc; c++) {
        const cx0 = Math.max(x0, this.colB[c]!);
        const cx1 = Math.min(x1, this.colB[c + 1]!);
        if (cx0 >= cx1) continue;
        const core = this.cores[r * nc + c];
        if (!core) throw new Error(`tile ${r * nc + c} of a ${this.height}×${this.width} map was read before it was written`);
        const cw = this.colB[c + 1]! - this.colB[c]!;
        const run = (cx1 - cx0) * C;
        for (let b = 0; b < this.batch; b++) {
          for (let y = ry0; y < ry1; y++) {
            const src = ((b * ch + (y - this.rowB[r]!)) * cw + (cx0 - this.colB[c]!)) * C;
            const dst = ((b * wh + (y - y0)) * ww + (cx0 - x0)) * C;
            out.set(core.subarray(src, src + run), dst);
          }
        }
      }
    }
    return out;
  }

  /** A window as a tensor. */
  windowTensor(box: Box): tf.Tensor4D {
    return tf.tensor4d(this.readWindow(box), [this.batch, box.y1 - box.y0, box.x1 - box.x0, this.channels]);
  }

  /** The whole map as one tensor. */
  toTensor(): tf.Tensor4D {
    return this.windowTensor({ y0: 0, y1: this.height, x0: 0, x1: this.width });
  }

  /** Splits a whole-map tensor into cores (one download). */
  static fromTensor(grid: TileGrid, shift: number, t: tf.Tensor4D, what = 'input'): HostFeature {
    const [B, H, W, C] = t.shape;
    const hf = new HostFeature(grid, shift, B, C);
    if (H !== hf.height || W !== hf.width) throw new Error(`${what}: ${H}×${W} does not match the tiled grid's ${hf.height}×${hf.width}`);
    const all = t.dataSync() as Float32Array;
    const n = tileCount(grid);
    for (let i = 0; i < n; i++) {
      const b = tileCore(grid, i, shift);
      const h = b.y1 - b.y0;
      const w = b.x1 - b.x0;
      const core = new Float32Array(B * h * w * C);
      for (let bb = 0; bb < B; bb++)
        for (let y = 0; y < h; y++) {
          const src = ((bb * H + b.y0 + y) * W + b.x0) * C;
          core.set(all.subarray(src, src + w * C), (bb * h + y) * w * C);
        }
      hf.cores[i] = core;
    }
    return hf;
  }
}
