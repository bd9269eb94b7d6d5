// `stablesr serve` / `stablesr worker` flags: help, and every usage error is one line naming the flag (exit 2),
// found before anything loads or listens.
import test from 'ava';
import { main } from '@stablesr/cli';

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

test('serve and worker have help', async (t) => {
  const s = await run('serve', '--help');
  t.is(s.code, 0);
  t.regex(s.out, /POST {3}\/v1\/upscale/);
  const w = await run('worker', '--help');
  t.is(w.code, 0);
  t.regex(w.out, /--lock-seconds S/);
  t.regex((await run('--help')).out, /stablesr serve \[--redis URL\]/);
});

test('bad serve and worker flags are usage errors naming the flag', async (t) => {
  const cases: [string[], RegExp][] = [
    [['serve', '--redis', 'http://127.0.0.1:6379'], /--redis must be a redis:\/\/ or rediss:\/\/ URL/],
    [['serve', '--redis', 'redis://127.0.0.1:6379', '--checkpoint', 'x.ckpt'], /serve --redis: --checkpoint belongs on the workers/],
    [['serve', '--redis', 'redis://127.0.0.1:6379', '--token', 'short'], /--token must be at least 16 characters/],
    [['serve', '--redis', 'redis://127.0.0.1:6379', '--port', '70000'], /--port must be ≤ 65535, got 70000/],
    [['serve', '--redis', 'redis://127.0.0.1:6379', '--max-queued', '0'], /--max-queued must be ≥ 1, got 0/],
    [['serve', '--checkpoint', '/nonexistent/model.ckpt'], /--checkpoint: no such file: \/nonexistent\/model\.ckpt/],
    [['serve', 'extra'], /serve: unexpected argument extra/],
    [['worker', '--checkpoint', 'x'], /worker: --redis URL is required/],
    [['worker', '--redis', 'redis://127.0.0.1:6379', '--concurrency', '0'], /--concurrency must be ≥ 1, got 0/],
    [['worker', '--redis', 'redis://127.0.0.1:6379', '--name', 'a/b'], /--name must be 1…64 letters/],
    [['worker', '--redis', 'redis://127.0.0.1:6379', '--bogus'], /worker: unknown option --bogus/],
  ];
  for (const [argv, re] of cases) {
    const r = await run(...argv);
    t.is(r.code, 2, argv.join(' '));
    t.regex(r.err, re);
    t.is(r.err.split('\n').length, 1);
  }
});
