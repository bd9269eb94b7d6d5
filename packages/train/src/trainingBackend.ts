import * as tf from '@tensorflow/tfjs-core';

/** tfjs backends a training step can run on (all have the kernels autodiff needs, wasm with {@link registerWasmGradientKernels}). */
export type TrainingBackendName = 'wasm' | 'cpu' | 'tensorflow';

/**
 * Where training runs when nothing is asked: tfjs-node's `tensorflow` when the process already runs on it (native
 * kernels), else the first of these that starts. Ordered by measurement (`npm run bench -- train`, README Speed):
 * wasm trains the IR-SDE network several times faster than cpu, whose convolutions run at ~1.4 GFLOP/s.
 */
export const TRAINING_BACKEND_PREFERENCE: readonly TrainingBackendName[] = ['wasm', 'cpu'];

/** Options of {@link withTrainingBackend}. */
export interface TrainingBackendOptions {
  /** Force a backend (e.g. to compare them); default: {@link TRAINING_BACKEND_PREFERENCE}. */
  backend?: TrainingBackendName;
}

// The backend is process-global: concurrent sections share one switch (counted), and the previous backend comes back
// only when the last of them ends, so one section never yanks the backend from under another.
let users = 0;
let active: string | undefined;
let previous: string | undefined;

async function start(name: TrainingBackendName): Promise<boolean> {
  try {
    if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
    else if (name === 'cpu') await import('@tensorflow/tfjs-backend-cpu');
    else if (!tf.findBackend('tensorflow')) return false;
    if (!(await tf.setBackend(name))) return false;
    await tf.ready();
  } catch {
    return false;
  }
  // The cpu backend's "install tfjs-node" banner is for people who chose it; training may pick it as a fallback.
  if (name === 'cpu') (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  return true;
}

async function choose(opts: TrainingBackendOptions): Promise<string> {
  if (opts.backend) {
    if (tf.getBackend() === opts.backend || (await start(opts.backend))) return opts.backend;
    throw new Error(`training: the tfjs ${opts.backend} backend is not available`);
  }
  const current = tf.getBackend();
  if (current === 'tensorflow') return current;
  for (const name of TRAINING_BACKEND_PREFERENCE) if (current === name || (await start(name))) return name;
  throw new Error(`training: none of the tfjs backends ${TRAINING_BACKEND_PREFERENCE.join(', ')} is available`);
}

/**
 * Runs `fn` with the training backend active ({@link TRAINING_BACKEND_PREFERENCE}, or `opts.backend`), then
 * restores the backend that was active before. Tensors `fn` returns stay readable after (tfjs moves them on
 * demand). Everything else computing in the process meanwhile runs on the same backend; a concurrent section that
 * asks for a different one is an error rather than a silent switch.
 */
export async function withTrainingBackend<T>(fn: () => Promise<T>, opts: TrainingBackendOptions = {}): Promise<T> {
  if (users > 0) {
    if (opts.backend && opts.backend !== active) throw new Error(`training: backend ${opts.backend} requested while another training section runs on ${active}`);
    users++;
  } else {
    const before = tf.getBackend();
    users++;
    try {
      active = await choose(opts);
      previous = before;
    } catch (e) {
      users--;
      if (tf.getBackend() !== before) await tf.setBackend(before);
      throw e;
    }
  }
  try {
    return await fn();
  } finally {
    if (--users === 0 && previous !== undefined && previous !== active) await tf.setBackend(previous);
  }
}

/** The backend a training section runs on right now (undefined outside one). */
export function activeTrainingBackend(): string | undefined {
  return users > 0 ? active : undefined;
}
