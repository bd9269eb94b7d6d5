import type * as tf from '@tensorflow/tfjs-core';
import { type AttnBlock } from '../attnBlock.js';
import { type HostFeature } from './hostFeature.js';
import { type Instr, type Reg } from './program.js';
import { type TileGrid } from './tileGrid.js';

/** Per-(batch row, group) mean and biased variance, `[B·G]` row-major. */
export interface GroupMoments {
  mean: Float32Array;
  variance: Float32Array;
}

/** Key of a value's statistics for a GroupNorm of `groups` groups. */
export const momentsKey = (r: Reg, groups: number): string => `${r.id}/${groups}`;

/** One stage of a tiled program (the instructions between two GroupNorm syncs), as a backend runs it per tile. */
export interface TileStage {
  /** Identifies the stage's computation (same key, same graph), for backends that compile stages. */
  readonly key: string;
  readonly instrs: readonly Instr[];
  /** Values that outlive the stage: every tile returns their cores. */
  readonly stored: readonly Reg[];
  /** Values of earlier stages that the stage reads (parked on the host). */
  readonly loaded: readonly Reg[];
  /** For stored values that later GroupNorms read: the group counts whose moments each tile reports over its core. */
  readonly momentGroups: ReadonlyMap<number, readonly number[]>;
}

/** What a backend gets to run one tile of a stage. */
export interface TileInputs {
  readonly grid: TileGrid;
  readonly tile: number;
  readonly batch: number;
  /** An earlier stage's value, whole-map on the host. */
  host(r: Reg): HostFeature;
  /** Whole-image statistics of a GroupNorm's input. */
  stats(ins: Instr & { kind: 'norm' }): GroupMoments;
}

/** A tile's results: the core of each stored value (NHWC, in `stored` order) and their moments by {@link momentsKey}. */
export interface TileOutputs {
  cores: Float32Array[];
  moments: Map<string, GroupMoments>;
}

/**
 * How the tiled executor runs its stages: the executor owns the schedule (stages, tiles, host storage, statistics,
 * progress, abort); a backend computes one tile of a stage, or a whole-map attention block, on its engine.
 */
export interface TiledBackend {
  runTile(stage: TileStage, input: TileInputs): Promise<TileOutputs>;
  /** An attention block over a whole feature map (NHWC in, NHWC out, owned by the caller). */
  attention(block: AttnBlock, x: tf.Tensor4D): Promise<tf.Tensor4D>;
  /** Frees what the backend compiled (sessions). */
  dispose(): Promise<void>;
}
