import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { currentBackend } from '../backend.js';

/** Which engine runs the networks: ONNX Runtime (native kernels), TensorFlow.js (portable), or `auto`. */
export const ENGINE_CHOICES = ['auto', 'onnxruntime', 'tfjs'] as const;
export type EngineChoice = (typeof ENGINE_CHOICES)[number];
export type EngineName = Exclude<EngineChoice, 'auto'>;

export const DEVICE_CHOICES = ['cpu', 'cuda'] as const;
/** Where ONNX Runtime computes: its CPU provider, or CUDA (Linux x64, with ONNX Runtime's CUDA libraries installed). */
export type Device = (typeof DEVICE_CHOICES)[number];

/** Engine settings every loader, pipeline and CLI command takes. */
export interface EngineOptions {
  /** Default `auto` (or `STABLESR_ENGINE`): ONNX Runtime when its native binding loads, else TensorFlow.js. */
  engine?: EngineChoice;
  /** Intra-op threads for ONNX Runtime (default: every core). */
  threads?: number;
  /** ONNX Runtime device (default `cpu`). `cuda` fails with instructions when the CUDA provider is not installed. */
  device?: Device;
  /**
   * ONNX Runtime's weight prepacking (`session.disable_prepacking`): packing speeds up convolutions and matrix
   * products but holds a second copy of the weights. Default `true` (packing on).
   */
  prepack?: boolean;
}

/** The engine that was chosen, as reported by the API and the CLI's `--json`. */
export interface EngineInfo {
  readonly engine: EngineName;
  /** `cpu` / `cuda` for ONNX Runtime; the tfjs backend name (`wasm`, `cpu`, …) for TensorFlow.js. */
  readonly provider: string;
  /** Threads ONNX Runtime uses (1 for single-threaded tfjs backends). */
  readonly threads: number;
  readonly prepack: boolean;
}

/** The eager tfjs engine (the default of functions that take an optional engine; its backend is the active one). */
export const TFJS_ENGINE: EngineInfo = { engine: 'tfjs', provider: 'tfjs', threads: 1, prepack: true };

/** An engine that was asked for and cannot start (the CLI exits 2 with this message). */
export class EngineUnavailableError extends Error {
  override readonly name = 'EngineUnavailableError';
}

const require = createRequire(import.meta.url);

/** Whether onnxruntime-node's native binding loads here (memoised). */
let ortLoads: Promise<string | undefined> | undefined;
function ortLoadError(): Promise<string | undefined> {
  return (ortLoads ??= import('onnxruntime-node').then(
    () => undefined,
    (e: unknown) => (e instanceof Error ? e.message : String(e)),
  ));
}

/** The folder of onnxruntime-node's binaries for this platform (where its CUDA provider library goes). */
function ortBinaryDir(): string | undefined {
  try {
    const pkg = dirname(require.resolve('onnxruntime-node/package.json'));
    return join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    return undefined;
  }
}

/** How a user gets CUDA for ONNX Runtime (also in the README). */
export const ORT_CUDA_HINT =
  'install ONNX Runtime\'s CUDA 12 provider once with `ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install` (Linux x64, NVIDIA driver with CUDA 12 and cuDNN 9), or use --device cpu';

function parseChoice<T extends string>(value: string, choices: readonly T[], what: string): T {
  if (!(choices as readonly string[]).includes(value)) throw new Error(`${what} must be one of ${choices.join(', ')}, got ${JSON.stringify(value)}`);
  return value as T;
}

export function parseEngineChoice(value: string, source = 'engine'): EngineChoice {
  return parseChoice(value, ENGINE_CHOICES, source);
}

export function parseDevice(value: string, source = 'device'): Device {
  return parseChoice(value, DEVICE_CHOICES, source);
}

/**
 * Chooses the engine: the option, else `STABLESR_ENGINE`, else `auto` (ONNX Runtime when its binding loads,
 * else TensorFlow.js on the active backend). A forced engine or device that cannot start throws
 * {@link EngineUnavailableError} — never a silent fallback.
 */
export async function resolveEngine(opts: EngineOptions = {}): Promise<EngineInfo> {
  const env = process.env.STABLESR_ENGINE;
  const choice = opts.engine ?? (env ? parseEngineChoice(env, 'STABLESR_ENGINE') : 'auto');
  const device = opts.device ?? 'cpu';
  const threads = opts.threads ?? availableParallelism();
  if (!Number.isInteger(threads) || threads < 1 || threads > 1024) throw new Error(`threads must be an integer 1…1024, got ${threads}`);
  const prepack = opts.prepack ?? true;
  if (choice === 'tfjs') {
    if (device !== 'cpu') throw new EngineUnavailableError(`--device ${device} is for the onnxruntime engine; the tfjs engine picks its device with --backend`);
    return { engine: 'tfjs', provider: currentBackend()?.name ?? 'unset', threads: 1, prepack };
  }
  const err = await ortLoadError();
  if (err !== undefined) {
    if (choice === 'onnxruntime' || device !== 'cpu') throw new EngineUnavailableError(`the onnxruntime engine cannot start: onnxruntime-node does not load here (${err})`);
    return { engine: 'tfjs', provider: currentBackend()?.name ?? 'unset', threads: 1, prepack };
  }
  if (device === 'cuda') {
    const dir = ortBinaryDir();
    if (!dir || !existsSync(join(dir, 'libonnxruntime_providers_cuda.so'))) {
      throw new EngineUnavailableError(`--device cuda: ONNX Runtime's CUDA provider is not installed (${dir ?? 'onnxruntime-node'} has no libonnxruntime_providers_cuda.so); ${ORT_CUDA_HINT}`);
    }
  }
  return { engine: 'onnxruntime', provider: device, threads, prepack };
}
