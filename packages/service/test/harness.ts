// Real parts for the service tests: a redis-server process of their own (persistence on), the `stablesr` command as
// child processes, the tiny StableSR checkpoint, PNG inputs, polling.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { type TinyCheckpoint, writeTinyCheckpoint } from '../../stablesr/test/tinyCheckpoint.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** A free loopback port (bound, read, released). */
export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });
}

export interface RedisServer {
  url: string;
  /** Stops Redis (SIGTERM: it flushes its append-only file) and starts it again on the same port and data. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

function hasRedisServer(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * A fresh redis-server on a random loopback port with `appendonly yes` / `appendfsync always` (an accepted job is on
 * disk before the 202) in a temp folder. Without the binary, the server at STABLESR_TEST_REDIS_URL (which cannot be
 * restarted); with neither, this throws and the test fails: these tests are never skipped.
 */
export async function startRedis(): Promise<RedisServer> {
  if (!hasRedisServer()) {
    const url = process.env.STABLESR_TEST_REDIS_URL;
    if (!url) throw new Error('redis-server is not installed and STABLESR_TEST_REDIS_URL is not set: install it (apt-get install -y redis-server; .ci/run does)');
    return { url, restart: () => Promise.reject(new Error('cannot restart the Redis at STABLESR_TEST_REDIS_URL: install redis-server')), stop: async () => {} };
  }
  const dir = mkdtempSync(join(tmpdir(), 'stablesr-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--protected-mode', 'yes'], { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        if (execFileSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() === 'PONG') return;
      } catch {
        // not up yet
      }
      if (Date.now() > deadline) throw new Error(`redis-server did not start on port ${port}`);
      await sleep(50);
    }
  };
  const stop = async () => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((ok) => c.once('exit', ok));
    c.kill('SIGTERM');
    await exited;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    restart: async () => {
      await stop();
      await start();
    },
    stop: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

/**
 * The engine of every test process: ONNX Runtime runs the networks off the event loop (HTTP, lock renewals and
 * cancel messages stay served while a job runs), on one thread so that every process computes the same bits and
 * two processes share the two cores.
 */
export const ENGINE = { engine: 'onnxruntime', threads: 1 } as const;

/** The tiny StableSR model (synthetic weights, VAE factor 4, 32 px input) and the flags that load it. */
export async function tinyModel(): Promise<TinyCheckpoint & { flags: string[] }> {
  const m = await writeTinyCheckpoint({ vaeLevels: 2, imageSize: 32 });
  return { ...m, flags: ['--checkpoint', m.checkpoint, '--cfw', m.cfw, '--config', m.configFile, '--engine', ENGINE.engine, '--threads', String(ENGINE.threads)] };
}

/** A `stablesr` command running as a child process (from sources), with its output collected. */
export interface CliProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** The first match of the ready pattern on stdout. */
  ready: RegExpMatchArray;
  exited: Promise<number | null>;
}

/** Starts `stablesr ...args` and waits for `ready` on its stdout (failing with its output if it exits first). */
export function startCli(args: string[], ready: RegExp, env: NodeJS.ProcessEnv = {}): Promise<CliProcess> {
  const child = spawn(process.execPath, ['--import=tsx', '--conditions=stablesr-source', join(repo, 'packages/cli/bin/stablesr-dev.ts'), ...args], {
    cwd: repo,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`stablesr ${args[0]} did not get ready in 60 s: ${out} ${err}`)), 60_000);
    const onData = () => {
      const m = ready.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      ok({ child, stdout: () => out, stderr: () => err, ready: m, exited });
    };
    child.stdout!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      fail(new Error(`stablesr ${args[0]} exited with ${code} before it was ready: ${out} ${err}`));
    });
  });
}

/** Stops a child (if it still runs) and waits for it. */
export async function stopCli(p: CliProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (!p) return null;
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill(signal);
  return p.exited;
}

/** A deterministic RGB PNG of `w × h`. */
export function png(w: number, h: number, seed = 1): Promise<Buffer> {
  return sharp(Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 53 + seed * 97 + (i % 5) * 13) % 256), { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
}

/** Polls `GET /v1/jobs/{id}` until the job is final; returns the last status. */
export async function waitForJob(base: string, id: string, timeoutMs = 60_000, headers: Record<string, string> = {}): Promise<{ status: string; progress: number; error?: string; outputSize?: { width: number; height: number } }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await fetch(`${base}/v1/jobs/${id}`, { headers });
    if (r.status === 200) {
      const s = (await r.json()) as { status: string; progress: number };
      if (['done', 'failed', 'cancelled'].includes(s.status)) return s;
    } else if (r.status !== 503) throw new Error(`GET /v1/jobs/${id}: ${r.status} ${await r.text()}`);
    if (Date.now() > deadline) throw new Error(`job ${id} not finished after ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** `POST /v1/upscale` of `body` with the query `q`. */
export async function submit(base: string, body: Buffer, q: Record<string, string | number>, headers: Record<string, string> = {}): Promise<Response> {
  const qs = new URLSearchParams(Object.entries(q).map(([k, v]): [string, string] => [k, String(v)])).toString();
  return fetch(`${base}/v1/upscale${qs ? `?${qs}` : ''}`, { method: 'POST', body, headers: { 'content-type': 'image/png', ...headers } });
}

/** The p-quantile (0…1) of `xs` (nearest rank). */
export function quantile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
}
