import * as tf from '@tensorflow/tfjs-core';

/** Backends the library can run on. `tensorflow` / `tensorflow-gpu` need the optional tfjs-node(-gpu) packages. */
export type BackendName = 'wasm' | 'cpu' | 'tensorflow' | 'tensorflow-gpu';
export type BackendChoice = BackendName | 'auto';
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'wasm', 'cpu', 'tensorflow', 'tensorflow-gpu'];

export interface BackendInfo {
  /** What was asked for. */
  requested: BackendChoice;
  /** What runs. */
  name: BackendName;
  /** tfjs' own backend id (`wasm`, `cpu`, `tensorflow`). */
  tfBackend: string;
  /** Why earlier candidates of `auto` were passed over. */
  skipped: string[];
}

let current: BackendInfo | undefined;

async function tryNode(pkg: string): Promise<void> {
  // The optional peers are resolved at run time only, so `npm ci` never needs them.
  await import(pkg);
}

async function activate(name: BackendName): Promise<string> {
  switch (name) {
    case 'tensorflow-gpu':
      await tryNode('@tensorflow/tfjs-node-gpu');
      break;
    case 'tensorflow':
      await tryNode('@tensorflow/tfjs-node');
      break;
    case 'wasm':
      await import('@tensorflow/tfjs-backend-wasm');
      break;
    case 'cpu':
      await import('@tensorflow/tfjs-backend-cpu');
      break;
  }
  const id = name === 'tensorflow-gpu' ? 'tensorflow' : name;
  const ok = await tf.setBackend(id);
  if (!ok) throw new Error(`backend "${id}" failed to initialise`);
  await tf.ready();
  // The cpu backend prints a "install tfjs-node" banner on first use; the library reports its backend itself.
  if (id === 'cpu') (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  return id;
}

/** Parses a backend name from an option or `STABLESR_BACKEND`; throws on anything unknown. */
export function parseBackendChoice(value: string, source = 'backend'): BackendChoice {
  if ((BACKEND_CHOICES as readonly string[]).includes(value)) return value as BackendChoice;
  throw new Error(`${source}: unknown backend "${value}" (choose one of ${BACKEND_CHOICES.join(', ')})`);
}

/**
 * Chooses and initialises the tfjs backend once per process. `auto` tries tfjs-node-gpu, tfjs-node,
 * wasm, then cpu. A forced choice that cannot start is an error (no silent fallback).
 * The `STABLESR_BACKEND` environment variable is used when no choice is given.
 */
export async function initBackend(choice?: BackendChoice): Promise<BackendInfo> {
  const env = process.env.STABLESR_BACKEND;
  const requested: BackendChoice = choice ?? (env ? parseBackendChoice(env, 'STABLESR_BACKEND') : 'auto');
  if (current && (requested === current.requested || requested === current.name || (requested === 'auto' && choice === undefined))) return current;
  const candidates: BackendName[] = requested === 'auto' ? ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] : [requested];
  const skipped: string[] = [];
  for (const name of candidates) {
    try {
      const tfBackend = await activate(name);
      current = { requested, name, tfBackend, skipped };
      return current;
    } catch (e) {
      const msg = `${name}: ${(e as Error).message.split('\n')[0]}`;
      if (requested !== 'auto') throw new Error(`backend ${msg}`);
      skipped.push(msg);
    }
  }
  throw new Error(`no tfjs backend could start (${skipped.join('; ')})`);
}

/** The backend chosen by {@link initBackend}, if any. */
export function currentBackend(): BackendInfo | undefined {
  return current;
}
