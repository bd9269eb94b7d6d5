import test from 'ava';
import { fixtureContextWeightFile, fixtureWeightFile, requireFixtures } from '../../../test/fixtureGate.js';
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

// The HTTP example (examples/upscale-buffer-in-a-server.ts) with the tiny fixture model: a health request is
// answered in < 100 ms while an upscale runs, because the networks run off the event loop.

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const root = requireFixtures('the HTTP server example on the tiny fixture model');
// The tiny model's files, as the sampler.ddpm-sr manifest names them.
if (root) {
  const srFixture = join(root, 'sampler.ddpm-sr');
  const args = [
    '--import=tsx',
    '--conditions=stablesr-source',
    join(repo, 'examples/upscale-buffer-in-a-server.ts'),
    '--checkpoint', fixtureWeightFile(srFixture, 0),
    '--cfw', fixtureWeightFile(srFixture, 1),
    '--config', join(repo, 'packages/cli/test/data/tiny-sr.yaml'),
    '--text-encoder', fixtureContextWeightFile(srFixture),
    '--port', '0',
    '--steps', '200',
    // One ONNX Runtime thread: CI has 2 cores and runs other test files meanwhile, and two compute threads would
    // compete with the event loop for them. This test measures blocking of the loop, not the scheduler.
    '--threads', '1',
  ];

  function startServer(env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; url: string }> {
    const child = spawn(process.execPath, args, { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'] });
    return new Promise((ok, fail) => {
      let out = '';
      let err = '';
      const timer = setTimeout(() => fail(new Error(`server did not start: ${out} ${err}`)), 120_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /upscaling on (http:\/\/127\.0\.0\.1:\d+)\/upscale/.exec(out);
        if (m) {
          clearTimeout(timer);
          ok({ child, url: m[1]! });
        }
      });
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      child.on('exit', (code) => fail(new Error(`server exited with ${code}: ${out} ${err}`)));
    });
  }

  test('the HTTP example answers /healthz in < 100 ms while an upscale runs', async (t) => {
    const { child, url } = await startServer({ ...process.env, STABLESR_ENGINE: 'onnxruntime' });
    t.timeout(180_000);
    try {
      const png = await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: 200, g: 40, b: 90 } } }).png().toBuffer();
      let finished = false;
      const upscale = fetch(`${url}/upscale`, { method: 'POST', body: png }).finally(() => (finished = true));
      const latencies: number[] = [];
      // Health checks until the upscale answers (the server built its sessions with a warm-up image before listening).
      while (!finished) {
        const t0 = performance.now();
        const r = await fetch(`${url}/healthz`);
        const ms = performance.now() - t0;
        t.is(r.status, 200);
        const body = (await r.json()) as { ok: boolean; running: number };
        if (!finished && body.running === 1) latencies.push(ms);
        await new Promise((r) => setTimeout(r, 20));
      }
      const res = await upscale;
      t.is(res.status, 200, await res.clone().text());
      const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
      t.deepEqual([meta.width, meta.height], [64, 64]);
      t.true(latencies.length >= 10, `${latencies.length} health checks while the upscale ran`);
      const worst = Math.max(...latencies);
      t.log(`${latencies.length} health checks during the upscale, slowest ${worst.toFixed(1)} ms`);
      t.true(worst < 100, `slowest health check ${worst.toFixed(1)} ms`);
    } finally {
      child.kill('SIGTERM');
    }
  });
}
