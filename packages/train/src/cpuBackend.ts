import * as tf from '@tensorflow/tfjs-core';

// Gradients need kernels the wasm backend lacks (Conv2DBackpropFilter, among others), so training math runs on
// tfjs's `cpu` backend. The backend is process-global: concurrent sections share one switch (counted), and the
// previous backend comes back only when the last of them ends, so one section never yanks cpu from under another.
let users = 0;
let previous: string | undefined;

/**
 * Runs `fn` with tfjs's `cpu` backend active (the training step's autodiff needs kernels that `wasm` has not),
 * then restores the backend that was active before. Tensors `fn` returns live on `cpu` and stay readable after.
 * Everything else computing in the process meanwhile also runs on `cpu`.
 */
export async function withCpuBackend<T>(fn: () => Promise<T>): Promise<T> {
  if (users++ === 0) {
    previous = tf.getBackend();
    try {
      if (previous !== 'cpu') {
        await import('@tensorflow/tfjs-backend-cpu');
        if (!(await tf.setBackend('cpu'))) throw new Error('the tfjs cpu backend is not available');
        // Its "install tfjs-node" banner is for people who chose it; training picks it for its kernels.
        (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
      }
    } catch (e) {
      users--;
      throw e;
    }
  }
  try {
    return await fn();
  } finally {
    if (--users === 0 && previous !== undefined && previous !== 'cpu') await tf.setBackend(previous);
  }
}
