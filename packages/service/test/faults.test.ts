// Faults with real processes and a real redis-server (appendonly, fsync always): SIGTERM drains a worker, a full
// queue answers 429, a Redis restart loses no accepted job, a SIGKILLed worker's job completes on the other worker.
import test from 'ava';
import { rmSync } from 'node:fs';
import sharp from 'sharp';
import { type CliProcess, type RedisServer, png, sleep, startCli, startRedis, stopCli, submit, tinyModel, waitForJob } from './harness.js';

let redis: RedisServer;
let model: Awaited<ReturnType<typeof tinyModel>>;
let serve: CliProcess;
let workers: CliProcess[] = [];
let base: string;
const others: CliProcess[] = [];

// Short locks: a killed worker's job is taken over within about 2 + 1 s.
const startWorker = () => startCli(['worker', '--redis', redis.url, ...model.flags, '--lock-seconds', '2', '--stalled-seconds', '1'], /worker ready/);
const LONG = { steps: 300, 'input-size': 32 };

test.before(async () => {
  redis = await startRedis();
  model = await tinyModel();
  workers = await Promise.all([startWorker(), startWorker()]);
  serve = await startCli(['serve', '--redis', redis.url, '--port', '0'], /listening on (http:\/\/127\.0\.0\.1:\d+)/);
  base = serve.ready[1]!;
});
test.after.always(async () => {
  await Promise.all([...workers, ...others, serve].map((p) => stopCli(p, 'SIGKILL')));
  await redis?.stop();
  if (model) rmSync(model.dir, { recursive: true, force: true });
});

const jobRe = (id: string, what: string) => new RegExp(`job ${id.replace(/[-_]/g, '\\$&')}: ${what}`);

/** Waits until one of the workers logs that it started job `id`; returns it. */
async function runningOn(id: string, pool: CliProcess[]): Promise<CliProcess> {
  for (let i = 0; i < 600; i++) {
    const w = pool.find((p) => jobRe(id, '(upscale|patch \\d+) started').test(p.stderr()));
    if (w) return w;
    await sleep(20);
  }
  throw new Error(`job ${id} did not start`);
}

const sizeOf = async (id: string) => {
  const meta = await sharp(Buffer.from(await (await fetch(`${base}/v1/jobs/${id}/result`)).arrayBuffer())).metadata();
  return [meta.width, meta.height];
};

test.serial('SIGTERM drains a worker: its running job finishes, then it exits 0', async (t) => {
  const { id } = (await (await submit(base, await png(8, 8), LONG)).json()) as { id: string };
  const w = await runningOn(id, workers);
  w.child.kill('SIGTERM');
  t.is(await w.exited, 0, w.stderr());
  t.regex(w.stderr(), /draining[\s\S]*8×8 → 32×32/);
  t.is((await waitForJob(base, id)).status, 'done');
  workers = [workers.find((x) => x !== w)!, await startWorker()];
});

test.serial('DELETE cancels on Redis: a queued job at once, a running one at its next step on its worker', async (t) => {
  const img = await png(8, 8, 3);
  const running = (await (await submit(base, img, LONG)).json()) as { id: string };
  const w = await runningOn(running.id, workers);
  const t0 = performance.now();
  const c = await fetch(`${base}/v1/jobs/${running.id}`, { method: 'DELETE' });
  t.is(c.status, 200);
  t.is(((await c.json()) as { status: string }).status, 'cancelled');
  for (let i = 0; i < 500 && !jobRe(running.id, 'cancelled').test(w.stderr()); i++) await sleep(20);
  t.regex(w.stderr(), jobRe(running.id, 'cancelled'), 'the worker aborted it');
  t.log(`running job aborted on its worker ${((performance.now() - t0) / 1000).toFixed(2)} s after DELETE`);
  t.is(((await (await fetch(`${base}/v1/jobs/${running.id}`)).json()) as { status: string }).status, 'cancelled');
  t.is((await fetch(`${base}/v1/jobs/${running.id}/result`)).status, 409);
  // Both workers stopped: a job stays queued and is cancelled before any worker sees it.
  for (const x of workers) x.child.kill('SIGSTOP');
  let queued: { id: string };
  try {
    queued = (await (await submit(base, img, { steps: 2, 'input-size': 32 })).json()) as { id: string };
    t.is(((await (await fetch(`${base}/v1/jobs/${queued.id}`)).json()) as { status: string }).status, 'queued');
    t.is(((await (await fetch(`${base}/v1/jobs/${queued.id}`, { method: 'DELETE' })).json()) as { status: string }).status, 'cancelled');
  } finally {
    for (const x of workers) x.child.kill('SIGCONT');
  }
  await sleep(500);
  t.is(((await (await fetch(`${base}/v1/jobs/${queued.id}`)).json()) as { status: string }).status, 'cancelled');
  t.false(workers.some((x) => jobRe(queued.id, 'upscale started').test(x.stderr())), 'no worker ran the cancelled job');
});

test.serial('a full queue answers 429 with Retry-After; every accepted job completes', async (t) => {
  const limited = await startCli(['serve', '--redis', redis.url, '--port', '0', '--max-queued', '3'], /listening on (http:\/\/127\.0\.0\.1:\d+)/);
  others.push(limited);
  const url = limited.ready[1]!;
  for (const w of workers) w.child.kill('SIGSTOP');
  const ids: string[] = [];
  let refused: Response | undefined;
  try {
    for (let i = 0; i < 10 && !refused; i++) {
      const r = await submit(url, await png(8, 8, i), { steps: 2, 'input-size': 32 });
      if (r.status === 202) ids.push(((await r.json()) as { id: string }).id);
      else refused = r;
    }
  } finally {
    for (const w of workers) w.child.kill('SIGCONT');
  }
  t.is(ids.length, 3);
  t.is(refused?.status, 429);
  t.is(refused?.headers.get('retry-after'), '5');
  t.regex(((await refused!.json()) as { error: string }).error, /^queue is full \(3 jobs waiting, limit 3\)/);
  for (const id of ids) t.is((await waitForJob(url, id)).status, 'done');
});

test.serial('Redis restarts mid-run (appendonly): no accepted job is lost', async (t) => {
  const ids: string[] = [];
  for (let i = 0; i < 12; i++) {
    const r = await submit(base, await png(8, 8, 100 + i), { steps: 20, 'input-size': 32 });
    t.is(r.status, 202);
    ids.push(((await r.json()) as { id: string }).id);
  }
  // Some done, some running, most queued: then Redis goes down and comes back on the same data.
  await waitForJob(base, ids[1]!);
  const t0 = performance.now();
  await redis.restart();
  const down = (performance.now() - t0) / 1000;
  const states = [];
  for (const id of ids) states.push((await waitForJob(base, id, 90_000)).status);
  t.deepEqual(states, ids.map(() => 'done'));
  for (const id of ids) t.deepEqual(await sizeOf(id), [32, 32]);
  t.log(`redis restart: down ${down.toFixed(2)} s; all 12 accepted jobs done ${((performance.now() - t0) / 1000).toFixed(1)} s after the restart began`);
});

test.serial('SIGKILL of the worker running a job: the job completes on the other worker', async (t) => {
  const { id } = (await (await submit(base, await png(8, 8, 7), LONG)).json()) as { id: string };
  const victim = await runningOn(id, workers);
  const other = workers.find((w) => w !== victim)!;
  // Let it make progress first, so that the kill really is mid-job.
  for (let i = 0; i < 200; i++) {
    const s = (await (await fetch(`${base}/v1/jobs/${id}`)).json()) as { progress: number };
    if (s.progress > 0.1) break;
    await sleep(20);
  }
  const t0 = performance.now();
  victim.child.kill('SIGKILL');
  await victim.exited;
  const s = await waitForJob(base, id, 60_000);
  const recovered = (performance.now() - t0) / 1000;
  t.is(s.status, 'done', JSON.stringify(s));
  t.regex(other.stderr(), jobRe(id, 'upscale started'));
  t.regex(other.stderr(), jobRe(id, '8×8 → 32×32'));
  t.deepEqual(await sizeOf(id), [32, 32]);
  t.log(`SIGKILL mid-job: done on the other worker ${recovered.toFixed(1)} s after the kill (lock 2 s, stalled check 1 s)`);
  workers = [other, await startWorker()];
});

test.serial('SIGKILL of a worker during a split job: its patch is retried elsewhere and the job completes', async (t) => {
  const { id } = (await (await submit(base, await png(12, 12, 9), { steps: 60, 'input-size': 32, 'patch-size': 32, 'patch-stride': 16 })).json()) as { id: string };
  const victim = await runningOn(id, workers);
  victim.child.kill('SIGKILL');
  await victim.exited;
  const s = await waitForJob(base, id, 90_000);
  t.is(s.status, 'done', JSON.stringify(s));
  t.deepEqual(await sizeOf(id), [48, 48]);
  workers = workers.filter((w) => w !== victim);
});
