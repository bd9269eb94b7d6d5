import * as tf from '@tensorflow/tfjs-core';

/**
 * Where random draws come from. Every stochastic step takes a NoiseSource explicitly, so results are
 * reproducible from a seed, and the reference's recorded draws can be replayed in order.
 * `use` labels the draw (`posterior`, `x_T`, `step`, `discarded`) for checks and error messages.
 */
export interface NoiseSource {
  /** Standard normal tensor of `shape` (NHWC for images/latents). The caller owns it. */
  draw(shape: readonly number[], use?: string): tf.Tensor;
}

/**
 * xoshiro128** — small, fast, well-distributed, and identical on every platform. Its whole state is four 32-bit
 * words ({@link Xoshiro128.state}), so a long job (training) can save and resume its stream exactly.
 */
export class Xoshiro128 {
  private s: Uint32Array;
  /** A generator continuing from a saved {@link Xoshiro128.state}. */
  static fromState(state: readonly number[]): Xoshiro128 {
    if (state.length !== 4 || state.some((v) => !Number.isInteger(v) || v < 0 || v > 0xffffffff) || state.every((v) => v === 0)) {
      throw new Error(`xoshiro128 state must be four 32-bit unsigned integers, not all zero; got ${JSON.stringify(state)}`);
    }
    const g = new Xoshiro128(0);
    g.s.set(state);
    return g;
  }
  /** The current state (four uint32). */
  state(): number[] {
    return Array.from(this.s);
  }
  constructor(seed: number) {
    this.s = new Uint32Array(4);
    // splitmix32 expands the seed so that nearby seeds give unrelated streams.
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1]! << 9) >>> 0;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }
  /** Uniform in (0, 1): never 0, so log() is safe. */
  nextOpen(): number {
    return (this.nextU32() + 0.5) / 4294967296;
  }
  /** Uniform integer in [0, n) (n ≤ 2³²), by rejection so that every value is equally likely. */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 4294967296) throw new Error(`nextInt: n must be an integer in [1, 2^32], got ${n}`);
    const limit = 4294967296 - (4294967296 % n);
    for (;;) {
      const v = this.nextU32();
      if (v < limit) return v % n;
    }
  }
  /** `count` standard normals (Box–Muller, pairs). */
  normals(count: number): Float32Array {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i += 2) {
      const r = Math.sqrt(-2 * Math.log(this.nextOpen()));
      const theta = 2 * Math.PI * this.nextOpen();
      out[i] = r * Math.cos(theta);
      if (i + 1 < count) out[i + 1] = r * Math.sin(theta);
    }
    return out;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Seeded Gaussian noise (Box–Muller over xoshiro128**). Same seed, same draws, on every backend. */
export class SeededNoise implements NoiseSource {
  private rng: Xoshiro128;
  constructor(readonly seed: number) {
    if (!Number.isFinite(seed)) throw new Error(`seed must be a finite number, got ${seed}`);
    this.rng = new Xoshiro128(Math.trunc(seed));
  }
  normals(count: number): Float32Array {
    return this.rng.normals(count);
  }
  draw(shape: readonly number[]): tf.Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    return tf.tensor(this.normals(n), [...shape]);
  }
}

/**
 * Replays recorded draws in order (the fixtures' `noise.0`, `noise.1`, …). Each draw must have the
 * requested shape; running out, or a shape mismatch, is an error naming the draw index.
 * The source keeps ownership of its tensors; each draw returns a clone.
 */
export class InjectedNoise implements NoiseSource {
  private index = 0;
  constructor(private readonly tensors: readonly tf.Tensor[], private readonly uses?: readonly string[]) {}
  draw(shape: readonly number[], use?: string): tf.Tensor {
    const i = this.index;
    const t = this.tensors[i];
    if (!t) throw new Error(`injected noise exhausted: draw ${i}${use ? ` (${use})` : ''} requested but only ${this.tensors.length} were given`);
    if (t.shape.length !== shape.length || t.shape.some((d, k) => d !== shape[k])) {
      throw new Error(`injected noise ${i}${use ? ` (${use})` : ''}: shape [${t.shape}] does not match the requested [${shape}]`);
    }
    const expectedUse = this.uses?.[i];
    if (use && expectedUse && expectedUse !== use) throw new Error(`injected noise ${i}: recorded as "${expectedUse}" but drawn as "${use}" (draw order differs from the reference)`);
    this.index++;
    return t.clone();
  }
  /** How many draws were taken. */
  get drawn(): number {
    return this.index;
  }
  /** Disposes the recorded tensors (draws already handed out are clones and stay valid). */
  dispose(): void {
    for (const t of this.tensors) t.dispose();
  }
}
