import test from 'ava';
import { main } from '@stablesr/cli';
import { fixturesRoot } from '@stablesr/core';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const fixtures = fixturesRoot() ?? join(repo, '../shared/fixtures');
const srModels = join(fixtures, '_models/sr-a');
const CKPT = join(srModels, 'stablesr.safetensors');
const CFW = join(srModels, 'vqgan_cfw.safetensors');
const TEXT = join(fixtures, '_models/text-a/openclip_text.safetensors');
const VOCAB = join(fixtures, 'tokenizer/bpe_simple_vocab_16e6.txt.gz');
const CONFIG = join(repo, 'packages/cli/test/data/tiny-sr.yaml');

const dir = mkdtempSync(join(tmpdir(), 'stablesr-cli-'));
const IN = join(dir, 'in.png');
const OUT = join(dir, 'out.png');
const IMAGES = join(dir, 'images');
test.before(async () => {
  const px = Uint8Array.from({ length: 16 * 16 * 3 }, (_, i) => (i * 37) % 256);
  await sharp(px, { raw: { width: 16, height: 16, channels: 3 } }).png().toFile(IN);
  mkdirSync(IMAGES);
  await sharp(px, { raw: { width: 16, height: 16, channels: 3 } }).jpeg().toFile(join(IMAGES, 'a.jpg'));
  await sharp(px, { raw: { width: 16, height: 16, channels: 3 } }).png().toFile(join(IMAGES, 'b.png'));
  writeFileSync(join(dir, 'notes.txt'), 'not an image');
  writeFileSync(join(dir, 'fake.png'), 'not an image either');
  writeFileSync(join(dir, 'empty.png'), '');
  mkdirSync(join(dir, 'emptydir'));
  mkdirSync(join(dir, 'outdir'));
});
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

async function run(...argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, out, err };
}

/** Every failure is exit code `code` with exactly one `stablesr: …` line on stderr matching `re`. */
async function failsWith(t: import('ava').ExecutionContext, code: number, re: RegExp, ...argv: string[]): Promise<void> {
  const r = await run(...argv);
  t.is(r.code, code, `${argv.join(' ')} → ${r.err.join(' | ')}`);
  t.is(r.err.length, 1, `one error line, got: ${r.err.join(' | ')}`);
  t.regex(r.err[0] ?? '', /^stablesr: /);
  t.regex(r.err[0] ?? '', re);
  t.deepEqual(r.out, []);
}

const up = (...extra: string[]) => ['upscale', IN, OUT, '--checkpoint', CKPT, ...extra];

test('--help lists every command; upscale --help and generate --help list their options', async (t) => {
  const main_ = await run('--help');
  t.is(main_.code, 0);
  for (const c of ['upscale', 'generate', 'parity', 'inspect']) t.true(main_.out.join('\n').includes(`stablesr ${c}`), c);
  const u = await run('upscale', '--help');
  t.is(u.code, 0);
  for (const f of ['--checkpoint', '--cfw', '--config', '--text-encoder', '--tokenizer', '--scale', '--steps', '--sampler', '--tile-size', '--tile-overlap', '--fidelity', '--color-fix', '--prompt', '--negative-prompt', '--guidance', '--seed', '--backend', '--quiet', '--json', '--verbose']) {
    t.true(u.out.join('\n').includes(f), f);
  }
  const g = await run('generate', '--help');
  t.is(g.code, 0);
  for (const f of ['--prompt', '--latents-out', '--image-out', '--width', '--height', 'dpmpp-2m', 'euler-a']) t.true(g.out.join('\n').includes(f), f);
});

test('upscale without --checkpoint says which weights to get, in one line', async (t) => {
  await failsWith(t, 2, /stablesr_000117\.ckpt.*stablesr_768v_000139\.ckpt.*vqgan_cfw_00011\.ckpt.*huggingface\.co\/Iceclear\/StableSR.*bpe_simple_vocab_16e6\.txt\.gz/, 'upscale', IN, OUT);
});

test('missing files and folders where files are expected → exit 2 naming the path', async (t) => {
  await failsWith(t, 2, /no such input file or folder: .*nope\.png/, 'upscale', join(dir, 'nope.png'), OUT, '--checkpoint', CKPT);
  await failsWith(t, 2, /--checkpoint: no such file: .*missing\.ckpt/, 'upscale', IN, OUT, '--checkpoint', join(dir, 'missing.ckpt'));
  await failsWith(t, 2, /--checkpoint: .*sr-a is a directory, expected a file/, 'upscale', IN, OUT, '--checkpoint', srModels);
  await failsWith(t, 2, /--cfw: .* is a directory, expected a file/, ...up('--cfw', dir));
  await failsWith(t, 2, /--config: no such file/, ...up('--config', join(dir, 'none.yaml')));
  await failsWith(t, 2, /--text-encoder: no such file/, ...up('--text-encoder', join(dir, 'none.safetensors')));
  await failsWith(t, 2, /--tokenizer: no such file or directory/, ...up('--tokenizer', join(dir, 'none.txt.gz')));
  await failsWith(t, 2, /output .*outdir is a folder but input .*in\.png is a file/, 'upscale', IN, join(dir, 'outdir'), '--checkpoint', CKPT);
  await failsWith(t, 2, /output: folder .*no-such-dir does not exist/, 'upscale', IN, join(dir, 'no-such-dir', 'o.png'), '--checkpoint', CKPT);
  await failsWith(t, 2, /input .*images is a folder, so the output must be a folder too/, 'upscale', IMAGES, IN, '--checkpoint', CKPT);
  await failsWith(t, 2, /no images in .*emptydir/, 'upscale', join(dir, 'emptydir'), join(dir, 'o2'), '--checkpoint', CKPT);
  await failsWith(t, 2, /is the input file/, 'upscale', IN, IN, '--checkpoint', CKPT);
});

test('unsupported, empty or corrupt images → exit 2 with the supported formats', async (t) => {
  await failsWith(t, 2, /out\.bmp: unsupported output format "\.bmp" \(supported: \.png \.jpg \.jpeg \.webp \.tif \.tiff\)/, 'upscale', IN, join(dir, 'out.bmp'), '--checkpoint', CKPT);
  await failsWith(t, 2, /notes\.txt: unsupported input format "\.txt" \(supported: \.png/, 'upscale', join(dir, 'notes.txt'), OUT, '--checkpoint', CKPT);
  await failsWith(t, 2, /input: .*empty\.png is empty \(0 bytes\)/, 'upscale', join(dir, 'empty.png'), OUT, '--checkpoint', CKPT);
  // A file with an image extension but no image inside is found before any model is loaded.
  await failsWith(t, 2, /fake\.png: not an image in a supported format \(supported: png, jpeg, webp, tiff/, 'upscale', join(dir, 'fake.png'), OUT, '--checkpoint', CKPT);
  await failsWith(t, 2, /--config: expected a \.yaml, \.yml or \.json file/, ...up('--config', IN));
});

test('unknown flags, missing values, extra arguments → exit 2', async (t) => {
  await failsWith(t, 2, /^stablesr: upscale: unknown option --sclae \(see stablesr upscale --help\)$/, ...up('--sclae', '4'));
  await failsWith(t, 2, /upscale: --steps needs a value/, ...up('--steps'));
  await failsWith(t, 2, /upscale: --quiet does not take a value/, ...up('--quiet=yes'));
  await failsWith(t, 2, /expected <input> <output>, got 3 arguments/, 'upscale', IN, OUT, 'extra', '--checkpoint', CKPT);
  await failsWith(t, 2, /--seed given more than once/, ...up('--seed', '1', '--seed', '2'));
  await failsWith(t, 2, /unknown command "upscal"/, 'upscal', IN, OUT);
  await failsWith(t, 2, /generate: unknown option --latent-out/, 'generate', '--prompt', 'x', '--checkpoint', CKPT, '--latent-out', 'x.safetensors');
});

test('out-of-range and malformed numbers and choices → exit 2 naming the option', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['--scale', '9'], /--scale must be ≤ 8, got 9/],
    [['--scale', '0.5'], /--scale must be ≥ 1, got 0\.5/],
    [['--scale', 'x4'], /--scale must be a number, got "x4"/],
    [['--steps', '0'], /--steps must be ≥ 1, got 0/],
    [['--steps', '2.5'], /--steps must be a whole number, got "2\.5"/],
    [['--steps', '1001'], /--steps must be ≤ 1000/],
    [['--fidelity', '1.5'], /--fidelity must be ≤ 1, got 1\.5/],
    [['--fidelity=-0.1'], /--fidelity must be ≥ 0/],
    [['--tile-size', '4'], /--tile-size must be ≥ 8/],
    [['--tile-size', '32', '--tile-overlap', '32'], /--tile-overlap \(32\) must be smaller than --tile-size \(32\)/],
    [['--tile-overlap', '64'], /--tile-overlap \(64\) must be smaller than --tile-size \(64, the default\)/],
    [['--seed=-1'], /--seed must be ≥ 0, got -1/],
    [['--seed', '4294967296'], /--seed must be ≤ 4294967295/],
    [['--sampler', 'euler-a'], /--sampler must be one of ddpm, ddim, got "euler-a"/],
    [['--color-fix', 'histogram'], /--color-fix must be one of wavelet, adain, none/],
    [['--backend', 'webgl'], /--backend must be one of auto, wasm, cpu, tensorflow, tensorflow-gpu, got "webgl"/],
    [['--bit-depth', '12'], /--bit-depth must be 8 or 16, got 12/],
    [['--quantize', 'floor'], /--quantize must be one of truncate, round/],
    [['--sampler', 'ddim', '--guidance=-1'], /--guidance must be ≥ 0/],
  ];
  for (const [extra, re] of cases) await failsWith(t, 2, re, ...up(...extra));
});

test('conflicting flags → exit 2', async (t) => {
  await failsWith(t, 2, /--quiet and --verbose contradict each other/, ...up('--quiet', '--verbose'));
  await failsWith(t, 2, /--negative-prompt needs --sampler ddim/, ...up('--negative-prompt', 'blurry'));
  await failsWith(t, 2, /--guidance needs --sampler ddim/, ...up('--guidance', '7'));
  await failsWith(t, 2, /--format jpeg contradicts the output file name .*out\.png/, ...up('--format', 'jpeg'));
  await failsWith(t, 2, /--bit-depth 16 needs PNG output, not jpeg/, 'upscale', IN, join(dir, 'o.jpg'), '--checkpoint', CKPT, '--bit-depth', '16');
  await failsWith(t, 2, /--concurrency applies to folders only/, ...up('--concurrency', '2'));
});

test('generate validates its options', async (t) => {
  const lat = join(dir, 'lat.safetensors');
  const g = (...extra: string[]) => ['generate', '--prompt', 'a cat', '--checkpoint', CKPT, '--latents-out', lat, ...extra];
  await failsWith(t, 2, /generate: --prompt TEXT is required/, 'generate', '--checkpoint', CKPT, '--latents-out', lat);
  await failsWith(t, 2, /generate needs --checkpoint FILE: a Stable Diffusion 2\.x checkpoint/, 'generate', '--prompt', 'x', '--latents-out', lat);
  await failsWith(t, 2, /--latents-out FILE\.safetensors is required/, 'generate', '--prompt', 'x', '--checkpoint', CKPT);
  await failsWith(t, 2, /--latents-out must be a \.safetensors file/, 'generate', '--prompt', 'x', '--checkpoint', CKPT, '--latents-out', join(dir, 'l.npy'));
  await failsWith(t, 2, /--width must be a multiple of 8 \(the VAE downsamples by 8\), got 100/, ...g('--width', '100'));
  await failsWith(t, 2, /--height must be ≥ 8/, ...g('--height', '0'));
  await failsWith(t, 2, /--sampler must be one of ddim, ddpm, dpmpp-2m, euler-a, got "plms"/, ...g('--sampler', 'plms'));
  await failsWith(t, 2, /--vae is only used with --image-out/, ...g('--vae', CKPT));
  await failsWith(t, 2, /--image-out: unsupported output format "\.gif"/, ...g('--image-out', join(dir, 'x.gif')));
  await failsWith(t, 2, /--negative-prompt has no effect with --guidance 1/, ...g('--negative-prompt', 'dog', '--guidance', '1'));
  await failsWith(t, 2, /unexpected argument stray/, ...g('stray'));
  t.false(existsSync(lat));
});

test('the installed command: exit codes, one-line errors, --help (spawned)', (t) => {
  const cli = (...args: string[]) => spawnSync(process.execPath, ['--import=tsx', '--conditions=stablesr-source', 'packages/cli/bin/stablesr-dev.ts', ...args], { cwd: repo, encoding: 'utf8' });
  const help = cli('--help');
  t.is(help.status, 0);
  t.regex(help.stdout, /stablesr upscale <input> <output> --checkpoint FILE/);
  const bad = cli('upscale', IN, OUT, '--checkpoint', CKPT, '--scale', '0');
  t.is(bad.status, 2);
  t.deepEqual(bad.stderr.trim().split('\n'), ['stablesr: --scale must be ≥ 1, got 0']);
  t.is(bad.stdout, '');
  t.false(existsSync(OUT));
});

test('no output file is left behind when a run fails', async (t) => {
  const out = join(dir, 'fail-out.png');
  // A config the model cannot be built from fails at load time (exit 1), after validation passed.
  const badConfig = join(dir, 'bad.yaml');
  writeFileSync(badConfig, 'model:\n  params:\n    parameterization: x0\n');
  const r = await run('upscale', IN, out, '--checkpoint', CKPT, '--config', badConfig, '--cfw', CFW);
  t.is(r.code, 1, r.err.join(' | '));
  t.is(r.err.length, 1);
  t.false(existsSync(out));
  t.deepEqual(readdirSync(dir).filter((f) => f.includes('fail-out')), []);
  const v = await run('upscale', IN, out, '--checkpoint', CKPT, '--config', badConfig, '--verbose');
  t.is(v.code, 1);
  t.true(v.err.length > 1, '--verbose adds the stack');
  t.regex(v.err[1] ?? '', /at /);
});

test('a real upscale of a 16×16 image with the tiny fixture model (2 DDPM steps), JSON result', async (t) => {
  const out = join(dir, 'real-out.png');
  const r = await run('upscale', IN, out, '--checkpoint', CKPT, '--cfw', CFW, '--config', CONFIG, '--text-encoder', TEXT, '--tokenizer', VOCAB, '--steps', '2', '--seed', '7', '--json');
  t.is(r.code, 0, r.err.join(' | '));
  const res = JSON.parse(r.out.join('\n'));
  t.is(res.command, 'upscale');
  t.true(res.ok);
  t.is(res.images.length, 1);
  t.deepEqual(res.images[0].inputSize, { width: 16, height: 16 });
  t.deepEqual(res.images[0].outputSize, { width: 64, height: 64 });
  t.true(res.peakRssBytes > 0);
  const meta = await sharp(out).metadata();
  t.deepEqual([meta.format, meta.width, meta.height], ['png', 64, 64]);
});

test('a folder of images is upscaled into a new folder with a summary line', async (t) => {
  const outDir = join(dir, 'batch-out');
  const r = await run('upscale', IMAGES, outDir, '--checkpoint', CKPT, '--cfw', CFW, '--config', CONFIG, '--text-encoder', TEXT, '--tokenizer', VOCAB, '--steps', '1', '--concurrency', '2', '--format', 'png');
  t.is(r.code, 0, r.err.join(' | '));
  t.deepEqual(readdirSync(outDir).sort(), ['a.png', 'b.png']);
  t.regex(r.out.at(-1) ?? '', /^upscaled 2 of 2 images into .*batch-out in [\d.]+ s \(backend \w+, peak memory [\d.]+ [kMG]?B\)$/);
});
