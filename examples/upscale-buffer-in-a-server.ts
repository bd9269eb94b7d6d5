// An HTTP service that upscales uploaded images: POST the image bytes to /upscale, get a PNG back.
// The model is loaded once; at most CONCURRENCY images run at a time (p-limit) and at most QUEUE wait;
// more get 503. A client that disconnects aborts its job.
//   npm run example:upscale-buffer-in-a-server -- --checkpoint stablesr_000117.ckpt [--port 8080] [--steps 50]
//   curl --data-binary @photo.jpg -o photo-4x.png http://localhost:8080/upscale
import { encodeImage, initBackend, probeImage } from '@stablesr/core';
import { loadStableSR } from '@stablesr/cli';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import pLimit from 'p-limit';
import { fail, SR_WEIGHTS, srLoadOptions, takeWeightPaths } from './weightPaths.js';
import { runMain } from './runMain.js';

const { paths, rest } = takeWeightPaths(process.argv.slice(2), SR_WEIGHTS);
const opt = (flag: string, fallback: number): number => {
  const i = rest.indexOf(flag);
  const v = i < 0 ? fallback : Number(rest[i + 1]);
  if (!Number.isInteger(v) || v < 0) fail(`${flag} must be a whole number`);
  return v;
};
const PORT = opt('--port', 8080);
const STEPS = opt('--steps', 50);
const CONCURRENCY = 1; // one tfjs backend per process: running images side by side only splits the same cores
const QUEUE = 8;
const MAX_UPLOAD = 20 * 1024 * 1024;
const MAX_PIXELS = 1024 * 1024;

runMain(async () => {
  const backend = await initBackend();
  const sr = await loadStableSR({ ...srLoadOptions(paths), backend: backend.name });
  const limit = pLimit(CONCURRENCY);

  async function readBody(req: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > MAX_UPLOAD) throw Object.assign(new Error(`upload larger than ${MAX_UPLOAD} bytes`), { status: 413 });
      chunks.push(c as Buffer);
    }
    return Buffer.concat(chunks);
  }

  function reply(res: ServerResponse, status: number, body: string | Buffer, type = 'text/plain; charset=utf-8'): void {
    if (res.headersSent || res.destroyed) return;
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  const server = createServer(async (req, res) => {
    if (req.method !== 'POST' || req.url !== '/upscale') return reply(res, 404, 'POST an image to /upscale\n');
    if (limit.pendingCount >= QUEUE) return reply(res, 503, 'busy, try again later\n');
    const ctrl = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) ctrl.abort();
    });
    try {
      const upload = await readBody(req);
      // Header check first: a bad upload is answered at once, without waiting for a model slot.
      const info = await probeImage(upload, 'upload');
      if (info.width * info.height > MAX_PIXELS) return reply(res, 413, `image too large (${info.width}×${info.height}, at most ${MAX_PIXELS} pixels)\n`);
      const png = await limit(async () => {
        ctrl.signal.throwIfAborted();
        const { image } = await sr.upscale(upload, { scale: 4, steps: STEPS, sampler: 'ddpm', fidelity: 0.5, colorFix: 'wavelet', seed: 42, signal: ctrl.signal });
        return encodeImage(image, { format: 'png' });
      });
      reply(res, 200, png, 'image/png');
    } catch (e) {
      if (ctrl.signal.aborted) return;
      const status = (e as { status?: number }).status ?? (/^upload: /.test((e as Error).message) ? 400 : 500);
      reply(res, status, `${(e as Error).message}\n`);
    }
  });

  server.listen(PORT, () => console.log(`upscaling on http://localhost:${PORT}/upscale (backend ${backend.name}, ${STEPS} steps)`));
  process.once('SIGINT', () => {
    server.close();
    sr.dispose();
  });
});
