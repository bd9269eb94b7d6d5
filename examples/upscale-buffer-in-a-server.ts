// An HTTP service that upscales uploaded images: POST the image bytes to /upscale, get a PNG back; GET /healthz
// answers at once, also while an upscale runs (the networks run on ONNX Runtime in a worker thread, off the event loop).
// The model is loaded once; at most CONCURRENCY images run at a time (p-limit) and at most QUEUE wait;
// more get 503. A client that disconnects aborts its job.
//   npm run example:upscale-buffer-in-a-server -- --checkpoint stablesr_000117.ckpt [--port 8080] [--steps 50] [--preset 768v]
//     [--engine auto|onnxruntime|tfjs] [--threads N]
//   curl --data-binary @photo.jpg -o photo-4x.png http://127.0.0.1:8080/upscale
// --port 0 picks a free port (printed). STABLESR_ENGINE=tfjs runs the networks on tfjs instead, on this thread.
// Before listening it upscales a 16×16 image once, so that the engine sessions for inputs up to inputSize / scale
// (128² for the 512 model) exist before the first request.
import { encodeImage, probeImage } from '@stablesr/core';
import { StableSR } from '@stablesr/stablesr';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import pLimit from 'p-limit';
import { fail, SR_WEIGHTS, srLoadOptions, takeValue, takeWeightPaths } from './weightPaths.js';
import { runMain } from './runMain.js';

const { paths, rest } = takeWeightPaths(process.argv.slice(2), SR_WEIGHTS);
const loadOptions = srLoadOptions(paths, rest);
const opt = (flag: string, fallback: number): number => {
  const raw = takeValue(rest, flag);
  const v = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(v) || v < 0) fail(`${flag} must be a whole number`);
  return v;
};
const PORT = opt('--port', 8080);
const STEPS = opt('--steps', 50);
const CONCURRENCY = 1; // the networks of one process share the machine's cores: running images side by side only splits them
const QUEUE = 8;
const MAX_UPLOAD = 20 * 1024 * 1024;
const MAX_PIXELS = 1024 * 1024;

runMain(async () => {
  const sr = await StableSR.load(loadOptions);
  // Warm-up before serving: the first image of a size builds the engine sessions, and recording their graphs runs on
  // this thread (seconds for the released model). Any input up to inputSize / scale shares the shapes of this one.
  await sr.upscale({ data: new Uint8Array(16 * 16 * 3).fill(128), width: 16, height: 16, channels: 3 }, { steps: 1 });
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
    if (req.method === 'GET' && req.url === '/healthz') return reply(res, 200, JSON.stringify({ ok: true, running: limit.activeCount, queued: limit.pendingCount }), 'application/json');
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
        // An encoded image in memory is a valid input; the other options keep the scripts' defaults (4×, DDPM, …).
        const { image } = await sr.upscale(upload, { steps: STEPS, signal: ctrl.signal });
        return encodeImage(image, { format: 'png' });
      });
      reply(res, 200, png, 'image/png');
    } catch (e) {
      if (ctrl.signal.aborted) return;
      const status = (e as { status?: number }).status ?? (/^upload: /.test((e as Error).message) ? 400 : 500);
      reply(res, status, `${(e as Error).message}\n`);
    }
  });

  server.listen(PORT, '127.0.0.1', () => {
    const port = (server.address() as { port: number }).port;
    const e = sr.engine;
    console.log(`upscaling on http://127.0.0.1:${port}/upscale (${e.engine === 'onnxruntime' ? `onnxruntime ${e.provider}, ${e.threads} threads` : `tfjs ${e.provider}`}, ${STEPS} steps)`);
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      server.close();
      sr.dispose();
      process.exit(0);
    });
  }
});
