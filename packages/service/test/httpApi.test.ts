// The HTTP API over the in-process queue, with a real model (the tiny StableSR) and a real HTTP client: submit,
// poll, fetch, cancel, every refusal (4xx, one line naming the field), token, queue bound, metrics, OpenAPI.
import test from 'ava';
import { encodeImage } from '@stablesr/core';
import { StableSR } from '@stablesr/stablesr';
import { type FastifyInstance } from 'fastify';
import { rmSync } from 'node:fs';
import sharp from 'sharp';
import { DEFAULT_SERVICE_LIMITS, LocalJobQueue, ServiceMetrics, buildHttpApi, stableSRServiceModel } from '../src/index.js';
import { ENGINE, png, submit, waitForJob } from './harness.js';
import { type TinyCheckpoint, writeTinyCheckpoint } from '../../stablesr/test/tinyCheckpoint.js';

let tiny: TinyCheckpoint;
let sr: StableSR;
const servers: FastifyInstance[] = [];
const TOKEN = 'a-test-token-of-some-length';

test.before(async () => {
  tiny = await writeTinyCheckpoint({ vaeLevels: 2, imageSize: 32 });
  sr = await StableSR.load({ checkpoint: tiny.checkpoint, cfw: tiny.cfw, config: tiny.configFile, ...ENGINE });
});
test.after.always(async () => {
  for (const s of servers) await s.close();
  sr?.dispose();
  if (tiny) rmSync(tiny.dir, { recursive: true, force: true });
});

async function serve(o: { token?: string; maxQueued?: number; maxBodyBytes?: number; maxPixels?: number } = {}) {
  const queue = new LocalJobQueue(stableSRServiceModel(sr, 'tiny'), { concurrency: 1, resultTtlSeconds: 60 });
  const metrics = new ServiceMetrics(queue);
  const app = buildHttpApi({ queue, metrics, limits: { ...DEFAULT_SERVICE_LIMITS, ...o }, ...(o.token && { token: o.token }) });
  servers.push(app);
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  return { base, queue };
}

const FAST = { steps: 2, 'input-size': 32 };

test.serial('round trip: submit → 202 queued, poll to done, fetch the PNG (the bytes upscale() gives), metrics and OpenAPI', async (t) => {
  const { base } = await serve();
  const img = await png(12, 12);
  const r = await submit(base, img, { ...FAST, seed: 3, 'color-fix': 'adain' });
  t.is(r.status, 202);
  const { id, status } = (await r.json()) as { id: string; status: string };
  t.is(status, 'queued');
  t.regex(id, /^[A-Za-z0-9_-]{22}$/, '128-bit base64url id');
  const done = await waitForJob(base, id);
  t.is(done.status, 'done', JSON.stringify(done));
  t.is(done.progress, 1);
  t.deepEqual(done.outputSize, { width: 48, height: 48 });
  const res = await fetch(`${base}/v1/jobs/${id}/result`);
  t.is(res.status, 200);
  t.is(res.headers.get('content-type'), 'image/png');
  const got = Buffer.from(await res.arrayBuffer());
  const direct = await sr.upscale(img, { steps: 2, inputSize: 32, seed: 3, colorFix: 'adain' });
  t.true(got.equals(await encodeImage(direct.image, { format: 'png' })), 'the service returns what the library computes');
  const m = await (await fetch(`${base}/metrics`)).text();
  t.regex(m, /stablesr_jobs\{state="done"\} 1/);
  t.regex(m, /stablesr_queue_depth 0/);
  t.regex(m, /stablesr_job_duration_seconds_count\{state="done"\} 1/);
  t.regex(m, /stablesr_step_duration_seconds_count [1-9]/);
  const doc = (await (await fetch(`${base}/openapi.json`)).json()) as { openapi: string; paths: Record<string, unknown> };
  t.is(doc.openapi, '3.1.0');
  t.truthy(doc.paths['/v1/jobs/{id}/result']);
  t.deepEqual(await (await fetch(`${base}/healthz`)).json(), { ok: true, models: ['tiny'] });
});

test.serial('cancel: a queued job at once, a running job at its next step; 409 for done jobs, and for results not done', async (t) => {
  const { base } = await serve();
  const img = await png(8, 8);
  // A long job (400 evaluations) keeps the one slot busy; the second waits behind it.
  const long = (await (await submit(base, img, { steps: 400, 'input-size': 32 })).json()) as { id: string };
  const queued = (await (await submit(base, img, FAST)).json()) as { id: string };
  const early = await fetch(`${base}/v1/jobs/${queued.id}/result`);
  t.is(early.status, 409);
  t.regex(((await early.json()) as { error: string }).error, /is queued; the result exists once it is done/);
  const c1 = await fetch(`${base}/v1/jobs/${queued.id}`, { method: 'DELETE' });
  t.is(c1.status, 200);
  t.is(((await c1.json()) as { status: string }).status, 'cancelled');
  // Wait until the long one runs and has made progress, then cancel it.
  for (let i = 0; i < 400; i++) {
    const s = (await (await fetch(`${base}/v1/jobs/${long.id}`)).json()) as { status: string; progress: number; etaSeconds?: number };
    if (s.status === 'running' && s.progress > 0) {
      t.true(s.etaSeconds! > 0, 'a running job with progress has an ETA');
      break;
    }
    await new Promise((ok) => setTimeout(ok, 25));
  }
  const t0 = Date.now();
  const c2 = await fetch(`${base}/v1/jobs/${long.id}`, { method: 'DELETE' });
  t.is(((await c2.json()) as { status: string }).status, 'cancelled');
  // The slot frees at the next step: a new job completes long before the 1000 steps would have.
  const next = (await (await submit(base, img, FAST)).json()) as { id: string };
  t.is((await waitForJob(base, next.id)).status, 'done');
  t.true(Date.now() - t0 < 20_000, `slot freed after ${Date.now() - t0} ms`);
  t.is(((await (await fetch(`${base}/v1/jobs/${long.id}`)).json()) as { status: string }).status, 'cancelled');
  const again = await fetch(`${base}/v1/jobs/${next.id}`, { method: 'DELETE' });
  t.is(again.status, 409);
  t.regex(((await again.json()) as { error: string }).error, /is already done/);
});

test.serial('every bad request is a 4xx with one line naming the field', async (t) => {
  const { base } = await serve({ maxBodyBytes: 4096, maxPixels: 64 * 64 });
  const img = await png(8, 8);
  const cases: [Promise<Response>, number, RegExp][] = [
    [submit(base, img, { stepz: 3 }), 400, /^unknown query parameter stepz/],
    [submit(base, img, { steps: 0 }), 400, /^query parameter steps must be ≥ 1, got 0$/],
    [submit(base, img, { steps: 2000 }), 400, /^query parameter steps must be ≤ 1000, got 2000$/],
    [submit(base, img, { steps: 'many' }), 400, /^query parameter steps must be a whole number, got "many"$/],
    [submit(base, img, { sampler: 'euler' }), 400, /^query parameter sampler must be one of ddpm, ddim, got "euler"$/],
    [submit(base, img, { fidelity: 2 }), 400, /^query parameter fidelity must be ≤ 1, got 2$/],
    [submit(base, img, { eta: 0.5 }), 400, /^query parameter eta needs query parameter sampler ddim/],
    [submit(base, img, { 'tile-size': 3, 'input-size': 32 }), 400, /^query parameter tile-size must be a multiple of 2/],
    [submit(base, img, { model: 'other' }), 400, /^query parameter model must be one of tiny, got "other"$/],
    [fetch(`${base}/v1/upscale?steps=2&steps=3`, { method: 'POST', body: img, headers: { 'content-type': 'image/png' } }), 400, /^query parameter steps given more than once$/],
    [submit(base, Buffer.from('not an image at all'), {}), 400, /^body is not an image that can be read/],
    [submit(base, Buffer.alloc(0), {}), 400, /^body is empty/],
    [submit(base, await png(65, 64), {}), 413, /^body is a 65×64 image \(4160 pixels\), more than the limit of 4096 pixels$/],
    [submit(base, Buffer.alloc(5000, 1), {}), 413, /^request body is larger than the limit of 4096 bytes$/],
    [fetch(`${base}/v1/upscale`, { method: 'POST', body: img, headers: { 'content-type': 'application/json' } }), 415, /^header content-type must be image\/\*/],
    [fetch(`${base}/v1/jobs/AAAAAAAAAAAAAAAAAAAAAA`), 404, /^no job AAAAAAAAAAAAAAAAAAAAAA \(unknown, or its result expired\)$/],
    [fetch(`${base}/v1/jobs/..%2F..%2Fetc%2Fpasswd/result`), 404, /^no job/],
    [fetch(`${base}/v1/jobs/AAAAAAAAAAAAAAAAAAAAAA`, { method: 'DELETE' }), 404, /^no job/],
    [fetch(`${base}/v2/anything`), 404, /^no route GET \/v2\/anything$/],
  ];
  for (const [p, status, message] of cases) {
    const r = await p;
    const body = (await r.json()) as { error: string };
    t.is(r.status, status, body.error);
    t.regex(body.error, message);
    t.false(body.error.includes('\n'));
  }
});

test.serial('with a token every route but /healthz needs Authorization: Bearer', async (t) => {
  const { base } = await serve({ token: TOKEN });
  const img = await png(8, 8);
  t.is((await fetch(`${base}/healthz`)).status, 200);
  for (const [path, method] of [['/v1/upscale', 'POST'], ['/v1/jobs/AAAAAAAAAAAAAAAAAAAAAA', 'GET'], ['/metrics', 'GET'], ['/openapi.json', 'GET']] as const) {
    const r = await fetch(`${base}${path}`, { method, ...(method === 'POST' && { body: img, headers: { 'content-type': 'image/png' } }) });
    t.is(r.status, 401, path);
    t.is(r.headers.get('www-authenticate'), 'Bearer');
    t.regex(((await r.json()) as { error: string }).error, /^header authorization must be "Bearer <token>"/);
  }
  t.is((await submit(base, img, FAST, { authorization: 'Bearer wrong-token-of-same-len' })).status, 401);
  const ok = await submit(base, img, FAST, { authorization: `Bearer ${TOKEN}` });
  t.is(ok.status, 202);
  const { id } = (await ok.json()) as { id: string };
  t.is((await waitForJob(base, id, 60_000, { authorization: `Bearer ${TOKEN}` })).status, 'done');
});

test.serial('a full queue answers 429 with Retry-After; accepted jobs still complete', async (t) => {
  const { base } = await serve({ maxQueued: 2 });
  const img = await png(8, 8);
  const ids: string[] = [];
  let refused: Response | undefined;
  // One job runs, two wait: the fourth submission finds the queue full.
  for (let i = 0; i < 6 && !refused; i++) {
    const r = await submit(base, img, { steps: 200, 'input-size': 32 });
    if (r.status === 202) ids.push(((await r.json()) as { id: string }).id);
    else refused = r;
  }
  t.truthy(refused, 'a submission was refused');
  t.is(refused!.status, 429);
  t.is(refused!.headers.get('retry-after'), '5');
  t.regex(((await refused!.json()) as { error: string }).error, /^queue is full \(2 jobs waiting, limit 2\); retry later$/);
  t.true(ids.length >= 3);
  for (const id of ids) t.is((await waitForJob(base, id)).status, 'done');
});

test.serial('a multi-patch image in process: status counts its patches and the output has the planned size', async (t) => {
  const { base } = await serve();
  const r = await submit(base, await png(12, 12), { ...FAST, 'patch-size': 32, 'patch-stride': 16 });
  const { id } = (await r.json()) as { id: string };
  const s = (await (await fetch(`${base}/v1/jobs/${id}`)).json()) as { patches: number };
  t.true(s.patches > 1);
  t.is((await waitForJob(base, id)).status, 'done');
  const meta = await sharp(Buffer.from(await (await fetch(`${base}/v1/jobs/${id}/result`)).arrayBuffer())).metadata();
  t.deepEqual([meta.width, meta.height], [48, 48]);
});
