import { DEVICE_CHOICES, ENGINE_CHOICES, type EngineInfo, type EngineOptions, EngineUnavailableError, resolveEngine } from '@stablesr/core';
import { parseChoice } from './parseChoice.js';
import { parseIntOption } from './parseNumber.js';
import { UsageError } from '../usageError.js';

/** The engine flags every command that runs a network takes (parseArgs specs). */
export const ENGINE_FLAGS = {
  engine: { type: 'string' },
  threads: { type: 'string' },
  device: { type: 'string' },
  'no-prepack': { type: 'boolean' },
} as const;

/** `--engine`, `--threads`, `--device`, `--no-prepack` as {@link EngineOptions} (`STABLESR_ENGINE` applies when `--engine` is absent). */
export function parseEngineFlags(v: { engine?: string; threads?: string; device?: string; 'no-prepack'?: boolean }): EngineOptions {
  const o: EngineOptions = {};
  const engine = parseChoice('--engine', v.engine, ENGINE_CHOICES);
  const threads = parseIntOption('--threads', v.threads, { min: 1, max: 1024 });
  const device = parseChoice('--device', v.device, DEVICE_CHOICES);
  if (engine !== undefined) o.engine = engine;
  if (threads !== undefined) o.threads = threads;
  if (device !== undefined) o.device = device;
  if (v['no-prepack']) o.prepack = false;
  if (engine === 'tfjs' && (device !== undefined || threads !== undefined || v['no-prepack'])) {
    throw new UsageError(`--engine tfjs: ${device !== undefined ? '--device' : threads !== undefined ? '--threads' : '--no-prepack'} applies to the onnxruntime engine only (tfjs takes --backend)`);
  }
  return o;
}

/** Resolves the engine; one that was asked for and cannot start is a usage error (exit 2) naming it. */
export async function startEngine(o: EngineOptions): Promise<EngineInfo> {
  try {
    return await resolveEngine(o);
  } catch (e) {
    if (e instanceof EngineUnavailableError || (e as Error).message.startsWith('STABLESR_ENGINE')) throw new UsageError((e as Error).message);
    throw e;
  }
}

/** `onnxruntime (cpu, 2 threads)` / `tfjs (wasm)`, for summary lines. */
export function describeEngine(e: Pick<EngineInfo, 'engine' | 'provider' | 'threads'>): string {
  return e.engine === 'onnxruntime' ? `onnxruntime (${e.provider}, ${e.threads} thread${e.threads === 1 ? '' : 's'})` : `tfjs (${e.provider})`;
}

/** The help lines of the engine flags (shared by every command's help). */
export const ENGINE_HELP = `  --engine auto|onnxruntime|tfjs   auto (default; also STABLESR_ENGINE): ONNX Runtime when its native binding loads, else tfjs
  --threads N              ONNX Runtime threads (default: all cores)
  --device cpu|cuda        ONNX Runtime device (default cpu); cuda needs ONNX Runtime's CUDA provider (see README)
  --no-prepack             ONNX Runtime without weight prepacking (less memory, slower)`;
