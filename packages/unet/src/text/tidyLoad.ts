import * as tf from '@tensorflow/tfjs-core';

/**
 * Runs a module loader inside `tf.tidy`: tensors of the returned module are kept, and when the loader throws
 * (missing key, wrong shape, unexpected key found after reading the rest) everything it had already loaded is freed.
 */
export function tidyLoad<T extends object>(load: () => T): T {
  return tf.tidy(() => load() as unknown as tf.TensorContainer) as unknown as T;
}
