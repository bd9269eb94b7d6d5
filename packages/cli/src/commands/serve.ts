import { type JobQueue, LocalJobQueue, RedisJobQueue, ServiceMetrics, buildHttpApi } from '@stablesr/service';
import type { CliIo } from '../cliIo.js';
import { loadModel } from '../loadModel.js';
import type { ServeCliOptions } from '../serviceOptions.js';
import { untilShutdown } from './untilShutdown.js';

/**
 * `stablesr serve`: the HTTP API over BullMQ on Redis (`--redis`: workers run the jobs) or over an in-process queue
 * running the model loaded here. Prints `listening on http://HOST:PORT` once it accepts requests; SIGTERM or
 * Ctrl-C drains (no new requests, running in-process jobs finish) and exits 0.
 */
export async function serveCommand(o: ServeCliOptions, io: CliIo): Promise<number> {
  let queue: JobQueue;
  const model = o.model ? await loadModel(o.model) : undefined;
  if (model) queue = new LocalJobQueue(model, { concurrency: o.concurrency, resultTtlSeconds: o.limits.resultTtlSeconds });
  else queue = new RedisJobQueue({ redisUrl: o.redis!, resultTtlSeconds: o.limits.resultTtlSeconds, attempts: o.attempts });
  const metrics = new ServiceMetrics(queue);
  const app = buildHttpApi({ queue, limits: o.limits, metrics, ...(o.token !== undefined && { token: o.token }) });
  try {
    const address = await app.listen({ host: o.host, port: o.port });
    io.out(`listening on ${address} (${model ? `in-process queue, model ${model.descriptor.name}` : `jobs on ${o.redis!.replace(/\/\/[^@/]*@/, '//…@')}`}${o.token ? ', token required' : ''})`);
    await untilShutdown(io.signal);
    io.err('stablesr: shutting down: draining');
    await app.close();
  } finally {
    await queue.close();
    model?.dispose();
  }
  return 0;
}
