import { startRedisWorker } from '@stablesr/service';
import type { CliIo } from '../cliIo.js';
import { loadModel } from '../loadModel.js';
import type { WorkerCliOptions } from '../serviceOptions.js';
import { untilShutdown } from './untilShutdown.js';

/**
 * `stablesr worker --redis URL`: loads the model, registers it, and runs its BullMQ queues until SIGTERM or Ctrl-C,
 * which drains (running jobs finish; queued ones stay for other workers). Prints `worker ready: …` once it takes jobs.
 */
export async function workerCommand(o: WorkerCliOptions, io: CliIo): Promise<number> {
  const model = await loadModel(o.model);
  try {
    const w = await startRedisWorker(model, { ...o.tuning, redisUrl: o.redis, log: (l) => io.err(`stablesr worker: ${l}`) });
    io.out(`worker ready: model ${model.descriptor.name} (${model.descriptor.family}), concurrency ${o.tuning.concurrency}, pid ${process.pid}`);
    await untilShutdown(io.signal);
    io.err('stablesr worker: draining');
    await w.close();
  } finally {
    model.dispose();
  }
  return 0;
}
