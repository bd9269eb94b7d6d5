/** Messages between {@link OrtRuntime} and its worker thread (ortWorker.ts). */
import { type ExternalInitializer } from '../ops/onnxGraph.js';

export interface OrtSessionSettings {
  /** Intra-op threads. */
  threads: number;
  device: 'cpu' | 'cuda';
  /** `session.disable_prepacking`: keep weights in their given layout instead of a packed second copy. */
  disablePrepacking: boolean;
  /** ONNX Runtime's graph optimisation level: `all` adds the NCHWc convolution layout to `extended`. */
  optimization: 'all' | 'extended';
  /**
   * Keep ONNX Runtime's CPU arena (default): a session keeps its peak working memory between runs. Off for the many
   * small sessions of the tiled VAE's stages, whose arenas would add up to many times one tile's working set.
   */
  memoryArena?: boolean;
}

/** A tensor crossing the thread boundary: its bytes travel with the message (transferred, not copied). */
export interface WireTensor {
  type: 'float32' | 'int32';
  dims: number[];
  data: Float32Array | Int32Array;
}

export type OrtRequest =
  | { kind: 'create'; id: number; network: string; bytes: Uint8Array; externalData: ExternalInitializer[]; settings: OrtSessionSettings }
  | { kind: 'run'; id: number; session: number; feeds: Record<string, WireTensor> }
  | { kind: 'release'; id: number; session: number };

export type OrtReply =
  | { id: number; ok: true; session?: number; outputs?: Record<string, WireTensor>; seconds?: number }
  | { id: number; ok: false; error: string };
