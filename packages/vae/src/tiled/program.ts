import { type Conv2d, type GroupNorm } from '@stablesr/core';
import { type AttnBlock } from '../attnBlock.js';
import { type FeatureOps } from '../featureOps.js';

/**
 * A symbolic feature map: `channels` and the level, as `shift` = log2(size / base grid size).
 * Registers are written once (SSA), so liveness is just "last instruction that reads it".
 */
export interface Reg {
  readonly id: number;
  readonly channels: number;
  readonly shift: number;
}

export type Instr =
  | { readonly kind: 'conv'; readonly out: Reg; readonly x: Reg; readonly conv: Conv2d }
  | { readonly kind: 'norm'; readonly out: Reg; readonly x: Reg; readonly norm: GroupNorm }
  | { readonly kind: 'silu'; readonly out: Reg; readonly x: Reg }
  | { readonly kind: 'leakyRelu'; readonly out: Reg; readonly x: Reg; readonly alpha: number }
  | { readonly kind: 'scale'; readonly out: Reg; readonly x: Reg; readonly s: number }
  | { readonly kind: 'add'; readonly out: Reg; readonly a: Reg; readonly b: Reg }
  | { readonly kind: 'addScaled'; readonly out: Reg; readonly a: Reg; readonly b: Reg; readonly s: number }
  | { readonly kind: 'concat'; readonly out: Reg; readonly xs: readonly Reg[] }
  | { readonly kind: 'downsample'; readonly out: Reg; readonly x: Reg; readonly conv: Conv2d }
  | { readonly kind: 'upsample'; readonly out: Reg; readonly x: Reg }
  | { readonly kind: 'attention'; readonly out: Reg; readonly x: Reg; readonly block: AttnBlock };

/** Straight-line program recorded from a forward function written against {@link FeatureOps}. */
export interface Program {
  readonly inputs: readonly Reg[];
  readonly outputs: readonly Reg[];
  readonly instrs: readonly Instr[];
}

/** Registers an instruction reads. */
export function instrInputs(i: Instr): readonly Reg[] {
  switch (i.kind) {
    case 'add':
    case 'addScaled':
      return [i.a, i.b];
    case 'concat':
      return i.xs;
    default:
      return [i.x];
  }
}

/**
 * Runs `build` with a recording {@link FeatureOps} and returns the program. Channel counts and levels are
 * checked while recording, so a config that does not fit fails here with the layer named.
 */
export function traceProgram(inputs: readonly { channels: number; shift: number }[], build: (ops: FeatureOps<Reg>, inputs: Reg[]) => Reg[]): Program {
  let next = 0;
  const instrs: Instr[] = [];
  const reg = (channels: number, shift: number): Reg => ({ id: next++, channels, shift });
  const same = (a: Reg, b: Reg, what: string): void => {
    if (a.channels !== b.channels || a.shift !== b.shift) throw new Error(`${what}: operands differ (${a.channels} ch @2^${a.shift} vs ${b.channels} ch @2^${b.shift})`);
  };
  const checkConv = (c: Conv2d, x: Reg): void => {
    if (c.inChannels !== x.channels) throw new Error(`conv expects ${c.inChannels} input channels, got ${x.channels}`);
  };
  const ops: FeatureOps<Reg> = {
    conv: (conv, x) => {
      checkConv(conv, x);
      if (conv.stride !== 1 || typeof conv.padding !== 'number' || conv.dilation !== 1) throw new Error('tiled conv: only stride-1, symmetric padding, no dilation');
      const out = reg(conv.outChannels, x.shift);
      instrs.push({ kind: 'conv', out, x, conv });
      return out;
    },
    groupNorm: (norm, x) => {
      if (norm.channels !== x.channels) throw new Error(`GroupNorm of ${norm.channels} channels applied to ${x.channels}`);
      const out = reg(x.channels, x.shift);
      instrs.push({ kind: 'norm', out, x, norm });
      return out;
    },
    silu: (x) => {
      const out = reg(x.channels, x.shift);
      instrs.push({ kind: 'silu', out, x });
      return out;
    },
    leakyRelu: (x, alpha) => {
      const out = reg(x.channels, x.shift);
      instrs.push({ kind: 'leakyRelu', out, x, alpha });
      return out;
    },
    scale: (x, s) => {
      const out = reg(x.channels, x.shift);
      instrs.push({ kind: 'scale', out, x, s });
      return out;
    },
    add: (a, b) => {
      same(a, b, 'add');
      const out = reg(a.channels, a.shift);
      instrs.push({ kind: 'add', out, a, b });
      return out;
    },
    addScaled: (a, b, s) => {
      same(a, b, 'addScaled');
      const out = reg(a.channels, a.shift);
      instrs.push({ kind: 'addScaled', out, a, b, s });
      return out;
    },
    concat: (xs) => {
      const first = xs[0];
      if (!first) throw new Error('concat of nothing');
      for (const x of xs) if (x.shift !== first.shift) throw new Error('concat: operands at different levels');
      const out = reg(
        xs.reduce((a, x) => a + x.channels, 0),
        first.shift,
      );
      instrs.push({ kind: 'concat', out, xs: [...xs] });
      return out;
    },
    downsample: (conv, x) => {
      checkConv(conv, x);
      if (x.shift < 1) throw new Error('tiled downsample below the base grid (image size not a multiple of the downsampling factor?)');
      const out = reg(conv.outChannels, x.shift - 1);
      instrs.push({ kind: 'downsample', out, x, conv });
      return out;
    },
    upsampleNearest2x: (x) => {
      const out = reg(x.channels, x.shift + 1);
      instrs.push({ kind: 'upsample', out, x });
      return out;
    },
    attention: (block, x) => {
      if (block.channels !== x.channels) throw new Error(`AttnBlock of ${block.channels} channels applied to ${x.channels}`);
      const out = reg(x.channels, x.shift);
      instrs.push({ kind: 'attention', out, x, block });
      return out;
    },
    release: () => {},
    scope: (fn) => fn(),
  };
  const ins = inputs.map((i) => reg(i.channels, i.shift));
  const outputs = build(ops, ins);
  return { inputs: ins, outputs, instrs };
}
