import { type ImagePatch, gaussianTileWeights } from '@stablesr/core';

/** How overlapping pixel patches are averaged: `uniform` (DDPM `_tile` script) or `gaussian` (DDIM one). */
export type PatchBlend = 'uniform' | 'gaussian';

/** Finished canvas columns `[x0, x0 + width)`: NHWC `[batch, height, width, channels]`, row-major. */
export interface CanvasColumns {
  x0: number;
  width: number;
  data: Float32Array;
}

const f32 = Math.fround;

/**
 * Host-side (outside the tensor backend) weighted average of the pixel patches of the `_tile` scripts
 * (`ImageSpliterTh.update` / `gather`): `Σ out·w / Σ w`, in float32 and in plan order like the reference's
 * tensors. Patches must be added in plan order (x-major, which fixes the noise each patch draws); as soon as no
 * later patch touches a column it is normalised, handed to `emit` and dropped. Memory is the full-height band
 * of columns still open: at most about (patch + stride) columns, never the whole canvas.
 */
export class PatchBlender {
  private readonly columns = new Map<number, Float32Array>();
  /** Columns below this have been emitted. */
  private done = 0;
  private next = 0;
  /** Smallest x0 among patches i … end (suffix minimum), to know which columns are final. */
  private readonly minX0From: number[];
  private readonly weights: Float32Array | undefined;
  private readonly ph: number;
  private readonly pw: number;

  constructor(
    readonly batch: number,
    readonly height: number,
    readonly width: number,
    readonly channels: number,
    private readonly plan: readonly ImagePatch[],
    blend: PatchBlend,
    private readonly emit: (cols: CanvasColumns) => void,
  ) {
    if (plan.length === 0) throw new Error('patch blending: empty patch plan');
    this.ph = plan[0]!.h;
    this.pw = plan[0]!.w;
    for (const q of plan) {
      if (q.h !== this.ph || q.w !== this.pw) throw new Error('patch blending: all patches must have the same size');
      if (q.y0 < 0 || q.x0 < 0 || q.y0 + q.h > height || q.x0 + q.w > width) throw new Error(`patch blending: patch at (${q.x0}, ${q.y0}) outside the ${width}×${height} canvas`);
    }
    this.weights = blend === 'gaussian' ? Float32Array.from(gaussianTileWeights(this.pw, this.ph)) : undefined;
    this.minX0From = new Array<number>(plan.length + 1);
    this.minX0From[plan.length] = width;
    for (let i = plan.length - 1; i >= 0; i--) this.minX0From[i] = Math.min(plan[i]!.x0, this.minX0From[i + 1]!);
  }

  /** Bytes of open columns (the band). */
  get bytes(): number {
    let n = 0;
    for (const c of this.columns.values()) n += c.byteLength;
    return n;
  }

  /** Adds the output of the next patch of the plan, NHWC `[batch, h, w, channels]`. */
  add(data: Float32Array): void {
    const i = this.next;
    const q = this.plan[i];
    if (!q) throw new Error('patch blending: more patches than the plan has');
    const { batch: B, height: H, channels: C } = this;
    if (data.length !== B * q.h * q.w * C) throw new Error(`patch blending: patch ${i} has ${data.length} values, expected ${B * q.h * q.w * C}`);
    const wgt = this.weights;
    for (let x = 0; x < q.w; x++) {
      const cx = q.x0 + x;
      if (cx < this.done) throw new Error(`internal: patch ${i} touches emitted column ${cx}`);
      let col = this.columns.get(cx);
      if (!col) {
        col = new Float32Array(B * H * C);
        this.columns.set(cx, col);
      }
      for (let b = 0; b < B; b++) {
        for (let y = 0; y < q.h; y++) {
          const src = ((b * q.h + y) * q.w + x) * C;
          const dst = (b * H + q.y0 + y) * C;
          const gw = wgt ? wgt[y * q.w + x]! : 1;
          for (let c = 0; c < C; c++) col[dst + c] = col[dst + c]! + (wgt ? f32(data[src + c]! * gw) : data[src + c]!);
        }
      }
    }
    this.next++;
    const upTo = this.next === this.plan.length ? this.width : this.minX0From[this.next]!;
    if (upTo > this.done) this.flush(upTo);
  }

  /** Normalises and emits columns [done, upTo). */
  private flush(upTo: number): void {
    const { batch: B, height: H, channels: C } = this;
    const x0 = this.done;
    const width = upTo - x0;
    const out = new Float32Array(B * H * width * C);
    const seen = this.plan.slice(0, this.next);
    // Σ w per pixel in plan order (float32, as the reference's count tensor).
    const norm = new Float32Array(H);
    for (let x = 0; x < width; x++) {
      const cx = x0 + x;
      const col = this.columns.get(cx);
      if (!col) throw new Error(`internal: canvas column ${cx} was never covered by a patch`);
      norm.fill(0);
      for (const q of seen) {
        if (cx < q.x0 || cx >= q.x0 + q.w) continue;
        for (let y = 0; y < q.h; y++) norm[q.y0 + y] = f32(norm[q.y0 + y]! + (this.weights ? this.weights[y * q.w + cx - q.x0]! : 1));
      }
      for (let b = 0; b < B; b++) {
        for (let y = 0; y < H; y++) {
          const n = norm[y]!;
          const src = (b * H + y) * C;
          const dst = ((b * H + y) * width + x) * C;
          for (let c = 0; c < C; c++) out[dst + c] = f32(col[src + c]! / n);
        }
      }
      this.columns.delete(cx);
    }
    this.done = upTo;
    this.emit({ x0, width, data: out });
  }
}
