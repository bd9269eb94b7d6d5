import { probeImage } from '@stablesr/core';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { timingSafeEqual } from 'node:crypto';
import { type JobQueue } from './jobQueue.js';
import { isJobId } from './jobId.js';
import { openApiDocument } from './openApiDocument.js';
import { RequestError } from './requestError.js';
import { type ServiceLimits } from './serviceConfig.js';
import { type ServiceMetrics } from './serviceMetrics.js';
import { prepareUpscaleRequest } from './upscaleRequest.js';

export interface HttpApiOptions {
  queue: JobQueue;
  limits: ServiceLimits;
  metrics: ServiceMetrics;
  /** When set, every route but `/healthz` needs `Authorization: Bearer <token>`. */
  token?: string;
  /** Seconds a client told 429 should wait. */
  retryAfterSeconds?: number;
}

/** A queue call; the queue's store being unreachable (Redis down) is a 503 the client may retry. */
async function store<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof RequestError) throw e;
    throw new RequestError(503, `job store unavailable (${(e as Error).message.split('\n')[0]}); retry later`, { 'retry-after': '5' });
  }
}

/**
 * The HTTP API of `stablesr serve` (fastify): `POST /v1/upscale`, `GET|DELETE /v1/jobs/{id}`,
 * `GET /v1/jobs/{id}/result`, `/healthz`, `/metrics`, `/openapi.json`. Limits are enforced before an upload is
 * decoded: the body size while it is read (and from Content-Length, before), the pixel count from the image header.
 * Every refusal is JSON `{"error": "…"}`, one line naming the field.
 */
export function buildHttpApi(o: HttpApiOptions): FastifyInstance {
  const app = Fastify({ bodyLimit: o.limits.maxBodyBytes, logger: false });
  const { queue, limits, metrics } = o;
  const token = o.token === undefined ? undefined : Buffer.from(`Bearer ${o.token}`);

  // Only images are bodies: JSON and text parsers go, so any other type is a 415 before the body is read.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(/^image\/[\w.+-]+$/i, { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.addHook('onRequest', async (req, reply) => {
    if (!token || req.url === '/healthz') return;
    const given = Buffer.from(req.headers.authorization ?? '');
    // Constant-time comparison, so the token cannot be found byte by byte from response times.
    if (given.length !== token.length || !timingSafeEqual(given, token)) {
      reply.header('www-authenticate', 'Bearer');
      throw new RequestError(401, 'header authorization must be "Bearer <token>" with the service token');
    }
  });
  app.addHook('onResponse', async (req, reply) => {
    metrics.http.inc({ route: req.routeOptions.url ?? 'unmatched', code: String(reply.statusCode) });
  });

  app.setErrorHandler((err: FastifyError | RequestError, _req, reply) => {
    if (err instanceof RequestError) {
      for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
      return reply.code(err.statusCode).send({ error: err.message });
    }
    const code = err.code;
    if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(413).send({ error: `request body is larger than the limit of ${limits.maxBodyBytes} bytes` });
    if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH') return reply.code(415).send({ error: `header content-type must be image/* (the image bytes are the body), got ${JSON.stringify(_req.headers['content-type'] ?? '')}` });
    if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || code === 'FST_ERR_CTP_EMPTY_TYPE') return reply.code(415).send({ error: 'header content-type must be image/*' });
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    return reply.code(status).send({ error: (err.message || 'internal error').split('\n')[0] });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `no route ${req.method} ${req.url.split('?')[0]}` }));

  app.post('/v1/upscale', async (req, reply) => {
    const body = req.body;
    if (!Buffer.isBuffer(body)) throw new RequestError(415, 'header content-type must be image/* (the image bytes are the body)');
    if (body.length === 0) throw new RequestError(400, 'body is empty: send the image bytes');
    let info;
    try {
      // The header only: nothing is decoded before the pixel limit is checked.
      info = await probeImage(body, 'body');
    } catch (e) {
      throw new RequestError(400, `body is not an image that can be read (${(e as Error).message.split('\n')[0]!.replace(/^body: /, '')})`);
    }
    const pixels = info.width * info.height;
    if (pixels > limits.maxPixels) throw new RequestError(413, `body is a ${info.width}×${info.height} image (${pixels} pixels), more than the limit of ${limits.maxPixels} pixels`);
    const models = await store(() => queue.models());
    const request = prepareUpscaleRequest(models, req.query as Record<string, unknown>, info.width, info.height);
    const queued = await store(() => queue.queued());
    if (queued >= limits.maxQueued) throw new RequestError(429, `queue is full (${queued} jobs waiting, limit ${limits.maxQueued}); retry later`, { 'retry-after': String(o.retryAfterSeconds ?? 5) });
    const id = await store(() => queue.submit(body, request));
    return reply.code(202).send({ id, status: 'queued' });
  });

  const known = async (id: string) => {
    if (!isJobId(id)) throw new RequestError(404, `no job ${JSON.stringify(id.slice(0, 40))} (job ids are 22 characters of base64url)`);
    const st = await store(() => queue.status(id));
    if (!st) throw new RequestError(404, `no job ${id} (unknown, or its result expired)`);
    return st;
  };

  app.get<{ Params: { id: string } }>('/v1/jobs/:id', async (req) => known(req.params.id));

  app.get<{ Params: { id: string } }>('/v1/jobs/:id/result', async (req, reply) => {
    const id = req.params.id;
    const st = await known(id);
    const png = st.status === 'done' ? await store(() => queue.result(id)) : undefined;
    if (!png) throw new RequestError(409, `job ${id} is ${st.status}${st.status === 'done' ? ' but its result expired' : ''}; the result exists once it is done`);
    return reply.type('image/png').send(png);
  });

  app.delete<{ Params: { id: string } }>('/v1/jobs/:id', async (req) => {
    const id = req.params.id;
    const st = await known(id);
    if (st.status === 'done' || st.status === 'failed') throw new RequestError(409, `job ${id} is already ${st.status}`);
    return (await store(() => queue.cancel(id))) ?? st;
  });

  app.get('/healthz', async (_req, reply) => {
    try {
      const models = await queue.models();
      return { ok: true, models: models.map((m) => m.name) };
    } catch (e) {
      return reply.code(503).send({ ok: false, error: (e as Error).message.split('\n')[0] });
    }
  });
  app.get('/metrics', async (_req, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));
  app.get('/openapi.json', async () => openApiDocument());
  return app;
}
