import test from 'ava';
import { type CliIo, main } from '@stablesr/cli';
import { fixtureContextWeightFile, fixtureTests, fixtureWeightFile, requireFixtures } from '../../../test/fixtureGate.js';
import { StableSR, type UpscaleOptions } from '@stablesr/stablesr';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const root = requireFixtures('stablesr CLI tests on the tiny fixture model');
// Tests of the fixture model run only where the fixtures are (requireFixtures has registered the reason otherwise).
const { test: fxTest, serial: fxSerial } = fixtureTests(root);
const fixtures = root ?? '';
// The tiny model's files, as the sampler.ddpm-sr manifest names them.
const srFixture = join(fixtures, 'sampler.ddpm-sr');
const CKPT = root ? fixtureWeightFile(srFixture, 0) : '';
const CFW = root ? fixtureWeightFile(srFixture, 1) : '';
const srModels = dirname(CKPT);
const TEXT = root ? fixtureContextWeightFile(srFixture) : '';
const VOCAB = join(fixtures, 'tokenizer/bpe_simple_vocab_16e6.txt.gz');
const CONFIG = join(repo, 'packages/cli/test/data/tiny-sr.yaml');

/** The weight and config flags of the tiny fixture model (bundles sr-a + text-a). */
const TINY = ['--checkpoint', CKPT, '--cfw', CFW, '--config', CONFIG, '--text-encoder', TEXT];
/** The same model through the library, for comparing the CLI's files with `StableSR.upscale`. */
let tiny: StableSR;

const dir = mkdtempSync(join(tmpdir(), 'stablesr-cli-'));
const IN = join(dir, 'in.png');
const OUT = join(dir, 'out.png');
const IMAGES = join(dir, 'images');
/** 16×12 RGBA: opaque left half, transparent right half. */
const RGBA = join(dir, 'rgba.png');
/** A folder with one good image and one whose header reads but whose pixel data is cut off. */
const MIXED = join(dir, 'mixed');
test.before(async () => {
  const px = Uint8Array.from({ length: 16 * 16 * 3 }, (_, i) => (i * 37) % 256);
  await sharp(px, { raw: { width: 16, height: 16, channels: 3 } }).png().toFile(IN);
  mkdirSync(IMAGES);
  await sharp(px, { raw: { width: 16, height: 16, channels: 3 } }).jpeg().toFile(join(IMAGES, 'a.jpg'));
  await sharp(px, { raw: { width: 16, height: 16, channels: 3 } }).png().toFile(join(IMAGES, 'b.png'));
  const rgba = new Uint8Array(16 * 12 * 4);
  for (let y = 0; y < 12; y++) {
    for (let x = 0; x < 16; x++) {
      const i = (y * 16 + x) * 4;
      rgba.set([(x * 37 + y * 11) % 256, (x * 5 + y * 53) % 256, (x * y * 7) % 256, x < 8 ? 255 : 0], i);
    }
  }
  await sharp(rgba, { raw: { width: 16, height: 12, channels: 4 } }).png().toFile(RGBA);
  mkdirSync(MIXED);
  await sharp(px, { raw: { width: 16, height: 16, channels: 3 } }).png().toFile(join(MIXED, 'good.png'));
  const whole = await sharp(px, { raw: { width: 16, height: 16, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
  writeFileSync(join(MIXED, 'cut.png'), whole.subarray(0, whole.length >> 1));
  if (root) tiny = await StableSR.load({ checkpoint: CKPT, cfw: CFW, config: CONFIG, textEncoder: TEXT });
  writeFileSync(join(dir, 'notes.txt'), 'not an image');
  writeFileSync(join(dir, 'fake.png'), 'not an image either');
  writeFileSync(join(dir, 'empty.png'), '');
  mkdirSync(join(dir, 'emptydir'));
  mkdirSync(join(dir, 'outdir'));
});
test.after.always(() => {
  tiny?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

async function run(...argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  return runWith({}, ...argv);
}

async function runWith(extra: Partial<CliIo>, ...argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (s) => out.push(s), err: (s) => err.push(s), ...extra });
  return { code, out, err };
}

/** The samples of an image file as written (8- or 16-bit, all channels), decoded by sharp. */
async function samples(path: string): Promise<{ data: Uint8Array | Uint16Array; width: number; height: number; channels: number; depth: string }> {
  const meta = await sharp(path).metadata();
  const wide = meta.depth === 'ushort';
  // Without the explicit colourspace sharp converts 16-bit PNGs to 8-bit sRGB on the way out.
  const { data, info } = await sharp(path)
    .toColourspace(wide ? 'rgb16' : 'srgb')
    .raw({ depth: wide ? 'ushort' : 'uchar' })
    .toBuffer({ resolveWithObject: true });
  const typed = wide ? new Uint16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length)) : new Uint8Array(data);
  return { data: typed, width: info.width, height: info.height, channels: info.channels, depth: meta.depth ?? '' };
}

/** Largest |a − b| over two sample arrays of the same length. */
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
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

fxTest('--help lists every command; upscale --help and generate --help list their options', async (t) => {
  const main_ = await run('--help');
  t.is(main_.code, 0);
  for (const c of ['upscale', 'generate', 'parity', 'inspect']) t.true(main_.out.join('\n').includes(`stablesr ${c}`), c);
  const u = await run('upscale', '--help');
  t.is(u.code, 0);
  for (const f of ['--checkpoint', '--cfw', '--preset', '--config', '--cfw-config', '--text-encoder', '--tokenizer', '--scale', '--steps', '--sampler', '--eta', '--tile-size', '--tile-overlap', '--fidelity', '--color-fix', '--prompt', '--negative-prompt', '--guidance', '--seed', '--input-size', '--patch-size', '--patch-stride', '--quantize', '--bit-depth', '--format', '--concurrency', '--backend', '--vae-tile-size', '--weights', '--quiet', '--json', '--verbose']) {
    t.true(u.out.join('\n').includes(f), f);
  }
  const g = await run('generate', '--help');
  t.is(g.code, 0);
  for (const f of ['--prompt', '--latents-out', '--image-out', '--width', '--height', 'dpmpp-2m', 'euler-a']) t.true(g.out.join('\n').includes(f), f);
});

fxTest('upscale --model stablesr without --checkpoint says which weights to get, in one line', async (t) => {
  // Without --model the shipped default model runs (packages/cli/test/defaultModel.test.ts).
  await failsWith(t, 2, /stablesr_000117\.ckpt.*stablesr_768v_000139\.ckpt.*vqgan_cfw_00011\.ckpt.*huggingface\.co\/Iceclear\/StableSR.*bpe_simple_vocab_16e6\.txt\.gz/, 'upscale', IN, OUT, '--model', 'stablesr');
});

fxTest('missing files and folders where files are expected → exit 2 naming the path', async (t) => {
  await failsWith(t, 2, /no such input file or folder: .*nope\.png/, 'upscale', join(dir, 'nope.png'), OUT, '--checkpoint', CKPT);
  await failsWith(t, 2, /--checkpoint: no such file: .*missing\.ckpt/, 'upscale', IN, OUT, '--checkpoint', join(dir, 'missing.ckpt'));
  await failsWith(t, 2, new RegExp(`--checkpoint: .*${basename(srModels)} is a directory, expected a file`), 'upscale', IN, OUT, '--checkpoint', srModels);
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

fxTest('unsupported, empty or corrupt images → exit 2 with the supported formats', async (t) => {
  await failsWith(t, 2, /out\.bmp: unsupported output format "\.bmp" \(supported: \.png \.jpg \.jpeg \.webp \.tif \.tiff\)/, 'upscale', IN, join(dir, 'out.bmp'), '--checkpoint', CKPT);
  await failsWith(t, 2, /notes\.txt: unsupported input format "\.txt" \(supported: \.png/, 'upscale', join(dir, 'notes.txt'), OUT, '--checkpoint', CKPT);
  await failsWith(t, 2, /input: .*empty\.png is empty \(0 bytes\)/, 'upscale', join(dir, 'empty.png'), OUT, '--checkpoint', CKPT);
  // A file with an image extension but no image inside is found before any model is loaded.
  await failsWith(t, 2, /fake\.png: not an image in a supported format \(supported: png, jpeg, webp, tiff/, 'upscale', join(dir, 'fake.png'), OUT, '--checkpoint', CKPT);
  await failsWith(t, 2, /--config: expected a \.yaml, \.yml or \.json file/, ...up('--config', IN));
});

fxTest('unknown flags, missing values, extra arguments → exit 2', async (t) => {
  await failsWith(t, 2, /^stablesr: upscale: unknown option --sclae \(see stablesr upscale --help\)$/, ...up('--sclae', '4'));
  await failsWith(t, 2, /upscale: --steps needs a value/, ...up('--steps'));
  await failsWith(t, 2, /upscale: --quiet does not take a value/, ...up('--quiet=yes'));
  await failsWith(t, 2, /expected <input> <output>, got 3 arguments/, 'upscale', IN, OUT, 'extra', '--checkpoint', CKPT);
  await failsWith(t, 2, /--seed given more than once/, ...up('--seed', '1', '--seed', '2'));
  await failsWith(t, 2, /unknown command "upscal"/, 'upscal', IN, OUT);
  await failsWith(t, 2, /generate: unknown option --latent-out/, 'generate', '--prompt', 'x', '--checkpoint', CKPT, '--latent-out', 'x.safetensors');
});

fxTest('out-of-range and malformed numbers and choices → exit 2 naming the option', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['--scale', '9'], /--scale must be ≤ 8, got 9/],
    [['--scale', '0'], /--scale must be > 0, got 0/],
    [['--scale=-2'], /--scale must be > 0, got -2/],
    [['--scale', 'x4'], /--scale must be a number, got "x4"/],
    [['--steps', '0'], /--steps must be ≥ 1, got 0/],
    [['--steps', '2.5'], /--steps must be a whole number, got "2\.5"/],
    [['--steps', '1001'], /--steps must be ≤ 1000/],
    [['--fidelity', '1.5'], /--fidelity must be ≤ 1, got 1\.5/],
    [['--fidelity=-0.1'], /--fidelity must be ≥ 0/],
    [['--tile-size', '0'], /--tile-size must be ≥ 1, got 0/],
    [['--tile-size', '32', '--tile-overlap', '32'], /--tile-overlap \(32\) must be smaller than --tile-size \(32\)/],
    [['--tile-overlap=-1'], /--tile-overlap must be ≥ 0/],
    [['--sampler', 'ddim', '--eta=-0.5'], /--eta must be ≥ 0/],
    [['--input-size', '100'], /--input-size must be a multiple of 32, got 100/],
    [['--patch-size', '1000'], /--patch-size must be a multiple of 32, got 1000/],
    [['--patch-size', '256', '--input-size', '512'], /--patch-size \(256\) must be ≥ --input-size \(512\)/],
    [['--patch-size', '1280', '--patch-stride', '1300'], /--patch-stride \(1300\) must be ≤ --patch-size \(1280\)/],
    [['--preset', '1024'], /--preset must be one of 512, 768v, got "1024"/],
    [['--vae-tile-size', '4'], /--vae-tile-size must be ≥ 8/],
    [['--weights', 'disk'], /--weights must be one of auto, backend, host, got "disk"/],
    [['--seed=-1'], /--seed must be ≥ 0, got -1/],
    [['--seed', '4294967296'], /--seed must be ≤ 4294967295/],
    [['--sampler', 'euler-a'], /--sampler must be one of ddpm, ddim, got "euler-a"/],
    [['--color-fix', 'histogram'], /--color-fix must be one of wavelet, adain, none/],
    [['--backend', 'webgl'], /--backend must be one of auto, wasm, cpu, tensorflow, tensorflow-gpu, got "webgl"/],
    [['--bit-depth', '12'], /--bit-depth must be one of 8, 16, got "12"/],
    [['--quantize', 'floor'], /--quantize must be one of truncate, round/],
    [['--sampler', 'ddim', '--guidance=-1'], /--guidance must be ≥ 0/],
    [['--engine', 'torch'], /--engine must be one of auto, onnxruntime, tfjs, got "torch"/],
    [['--threads', '0'], /--threads must be ≥ 1, got 0/],
    [['--device', 'tpu'], /--device must be one of cpu, cuda, got "tpu"/],
  ];
  for (const [extra, re] of cases) await failsWith(t, 2, re, ...up(...extra));
});

fxTest('conflicting flags → exit 2', async (t) => {
  await failsWith(t, 2, /--quiet and --verbose contradict each other/, ...up('--quiet', '--verbose'));
  await failsWith(t, 2, /--negative-prompt needs --sampler ddim/, ...up('--negative-prompt', 'blurry'));
  await failsWith(t, 2, /--guidance needs --sampler ddim/, ...up('--guidance', '7'));
  await failsWith(t, 2, /--eta needs --sampler ddim/, ...up('--eta', '0'));
  await failsWith(t, 2, /--format jpeg contradicts the output file name .*out\.png/, ...up('--format', 'jpeg'));
  await failsWith(t, 2, /--bit-depth 16 needs PNG output, not jpeg/, 'upscale', IN, join(dir, 'o.jpg'), '--checkpoint', CKPT, '--bit-depth', '16');
  await failsWith(t, 2, /--concurrency applies to folders only/, ...up('--concurrency', '2'));
  await failsWith(t, 2, /--engine tfjs: --device applies to the onnxruntime engine only/, ...up('--engine', 'tfjs', '--device', 'cuda'));
});

fxTest('a forced device that cannot start → exit 2 naming it and how to get it, before any weight is read', async (t) => {
  // This machine has no CUDA provider for ONNX Runtime (CI never has one).
  await failsWith(t, 2, /^stablesr: --device cuda: ONNX Runtime's CUDA provider is not installed .*ONNXRUNTIME_NODE_INSTALL=cuda12/, 'upscale', IN, join(dir, 'cuda.png'), ...TINY, '--device', 'cuda');
  t.false(existsSync(join(dir, 'cuda.png')));
});

fxTest('generate validates its options', async (t) => {
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
  await failsWith(t, 2, /--preset must be one of 512, 768v, got "1024"/, ...g('--preset', '1024'));
  // Checked against the model configuration (SD 2.1 preset: VAE 8 × U-Net 8) before any weights are read.
  await failsWith(t, 2, /--width: width 520 must be a multiple of 64/, ...g('--width', '520'));
  await failsWith(t, 2, /--steps: DDIM steps 3: .* reaches timestep 1000, .* use e\.g\. 2 or 4 steps/, ...g('--steps', '3'));
  await failsWith(t, 2, /--weights must be one of auto, backend, host, got "gpu"/, ...g('--weights', 'gpu'));
  t.false(existsSync(lat));
});

fxTest('the installed command: exit codes, one-line errors, --help (spawned)', (t) => {
  const cli = (...args: string[]) => spawnSync(process.execPath, ['--import=tsx', '--conditions=stablesr-source', 'packages/cli/bin/stablesr-dev.ts', ...args], { cwd: repo, encoding: 'utf8' });
  const help = cli('--help');
  t.is(help.status, 0);
  t.regex(help.stdout, /stablesr upscale <input> <output> --checkpoint FILE/);
  const bad = cli('upscale', IN, OUT, '--checkpoint', CKPT, '--scale', '0');
  t.is(bad.status, 2);
  t.deepEqual(bad.stderr.trim().split('\n'), ['stablesr: --scale must be > 0, got 0']);
  t.is(bad.stdout, '');
  t.false(existsSync(OUT));
});

fxTest('options that depend on the model are checked by the pipeline and reported as usage errors with the flag', async (t) => {
  // The tiny U-Net downsamples by 4 (channel_mult [1, 1, 1]); its default tile is image_size / 8 = 8 latent pixels.
  await failsWith(t, 2, /^stablesr: --tile-size must be a multiple of 4 \(the U-Net's downsampling\), in latent pixels, got 6$/, 'upscale', IN, join(dir, 'm1.png'), ...TINY, '--steps', '1', '--tile-size', '6');
  await failsWith(t, 2, /^stablesr: --tile-overlap \(8\) must be smaller than --tile-size \(8\)$/, 'upscale', IN, join(dir, 'm2.png'), ...TINY, '--steps', '1', '--tile-overlap', '8');
  await failsWith(t, 2, /^stablesr: --patch-size \(32\) must be ≥ --input-size \(64\)$/, 'upscale', IN, join(dir, 'm3.png'), ...TINY, '--steps', '1', '--patch-size', '32');
  // A bad option fails the whole batch at once rather than every image in turn.
  await failsWith(t, 2, /--tile-size must be a multiple of 4/, 'upscale', IMAGES, join(dir, 'm4'), ...TINY, '--steps', '1', '--tile-size', '6');
  t.deepEqual(readdirSync(dir).filter((f) => /^m\d/.test(f)), []);
});

fxTest('a real upscale of a 16×16 image with the tiny fixture model (2 DDPM steps, U-Net weights on the host): JSON result, pixels equal StableSR.upscale', async (t) => {
  const out = join(dir, 'real-out.png');
  const r = await run('upscale', IN, out, ...TINY, '--tokenizer', VOCAB, '--steps', '2', '--seed', '7', '--weights', 'host', '--json');
  t.is(r.code, 0, r.err.join(' | '));
  t.deepEqual(r.err, []);
  const res = JSON.parse(r.out.join('\n'));
  t.is(res.command, 'upscale');
  t.true(res.ok);
  // The backend the library picks in this process (STABLESR_BACKEND, tfjs-node when installed, else wasm).
  t.is(res.backend, tiny.backend.name);
  t.is(res.weights, 'host');
  t.is(res.images.length, 1);
  t.is(res.images[0].input, IN);
  t.is(res.images[0].output, out);
  t.deepEqual(res.images[0].inputSize, { width: 16, height: 16 });
  t.deepEqual(res.images[0].outputSize, { width: 64, height: 64 });
  // 2 steps × 1 latent tile (the 8×8 latent of the 64×64 canvas fits the default 8×8 tile) × 1 pixel patch.
  t.is(res.images[0].evaluations, 2);
  t.is(res.images[0].seed, 7);
  t.true(res.images[0].seconds >= 0);
  t.true(res.peakRssBytes > 0);
  // What ran, and where the time went: the stages add up to no more than the image's wall time.
  t.true(['onnxruntime', 'tfjs'].includes(res.engine.engine), JSON.stringify(res.engine));
  t.true(res.engine.threads >= 1);
  t.true(res.loadSeconds > 0);
  const tm = res.images[0].timings;
  for (const k of ['load', 'encode', 'sample', 'decode', 'total']) t.true(tm[k] >= 0, `timings.${k} = ${tm[k]}`);
  t.true(tm.sample > 0 && tm.encode + tm.sample + tm.decode + tm.load <= tm.total + 0.02, JSON.stringify(tm));
  t.deepEqual([res.images[0].steps, res.images[0].tiles], [2, 1]);
  const got = await samples(out);
  t.deepEqual([got.width, got.height, got.channels, got.depth], [64, 64, 3, 'uchar']);
  const ref = await tiny.upscale(IN, { steps: 2, seed: 7 });
  t.is(maxAbsDiff(got.data, ref.image.data), 0);
});

fxTest('an RGBA image keeps its alpha; --bit-depth 16 writes real 16-bit samples and --quantize round is passed through', async (t) => {
  const out = join(dir, 'rgba-out.png');
  const r = await run('upscale', RGBA, out, ...TINY, '--steps', '2', '--seed', '3', '--bit-depth', '16', '--quantize', 'round', '--quiet');
  t.is(r.code, 0, r.err.join(' | '));
  t.deepEqual([r.out, r.err], [[], []]);
  const got = await samples(out);
  t.deepEqual([got.width, got.height, got.channels, got.depth], [64, 48, 4, 'ushort']);
  const opts: UpscaleOptions = { steps: 2, seed: 3, bitDepth: 16, quantize: 'round' };
  const ref = await tiny.upscale(RGBA, opts);
  t.true(ref.image.data instanceof Uint16Array);
  t.is(maxAbsDiff(got.data, ref.image.data), 0);
  // Not 8-bit values scaled by 257: most samples carry information below the 8-bit step.
  const fine = Array.from(got.data).filter((v) => v % 257 !== 0).length;
  t.true(fine > got.data.length / 2, `${fine} of ${got.data.length} samples off the 8-bit grid`);
  // Alpha: opaque far left, transparent far right (the bicubic resize only blends near the edge at x = 32).
  const alpha = (x: number, y: number) => got.data[(y * 64 + x) * 4 + 3]!;
  for (const y of [0, 20, 47]) {
    t.is(alpha(0, y), 65535);
    t.is(alpha(63, y), 0);
  }
  // The same call at 8 bits, truncated: every sample is the 16-bit one rescaled, within one 8-bit step.
  const out8 = join(dir, 'rgba-out8.png');
  t.is((await run('upscale', RGBA, out8, ...TINY, '--steps', '2', '--seed', '3', '--quiet')).code, 0);
  const got8 = await samples(out8);
  t.deepEqual([got8.channels, got8.depth], [4, 'uchar']);
  const rescaled = Array.from(got.data, (v) => (v / 65535) * 255);
  t.true(maxAbsDiff(got8.data, rescaled) <= 1, `max 8/16-bit difference ${maxAbsDiff(got8.data, rescaled)}`);
  // truncate (default) vs round at 8 bits: round − truncate ∈ {0, 1}, and round does round up somewhere.
  const outRound = join(dir, 'rgba-out8r.png');
  t.is((await run('upscale', RGBA, outRound, ...TINY, '--steps', '2', '--seed', '3', '--quantize', 'round', '--quiet')).code, 0);
  const gotRound = await samples(outRound);
  const delta = Array.from(gotRound.data, (v, i) => v - got8.data[i]!);
  t.true(delta.every((d) => d === 0 || d === 1));
  t.true(delta.some((d) => d === 1));
});

fxTest('a folder of images is upscaled into a new folder with a summary line', async (t) => {
  const outDir = join(dir, 'batch-out');
  const r = await run('upscale', IMAGES, outDir, ...TINY, '--tokenizer', VOCAB, '--steps', '1', '--concurrency', '2', '--format', 'png');
  t.is(r.code, 0, r.err.join(' | '));
  t.deepEqual(readdirSync(outDir).sort(), ['a.png', 'b.png']);
  for (const f of ['a.png', 'b.png']) {
    const m = await sharp(join(outDir, f)).metadata();
    t.deepEqual([m.format, m.width, m.height], ['png', 64, 64], f);
  }
  t.regex(r.out.at(-1) ?? '', /^upscaled 2 of 2 images into .*batch-out in [\d.]+ s \((onnxruntime \(cpu, \d+ threads?\)|tfjs \(\w+\)), peak memory [\d.]+ [kMG]?B\)$/);
  // --json for a folder: one entry per image, in name order.
  const outJson = join(dir, 'batch-json');
  const j = await run('upscale', IMAGES, outJson, ...TINY, '--steps', '1', '--json');
  t.is(j.code, 0, j.err.join(' | '));
  const res = JSON.parse(j.out.join('\n'));
  t.true(res.ok);
  t.deepEqual(res.images.map((i: { output: string }) => i.output), [join(outJson, 'a.jpg'), join(outJson, 'b.png')]);
  t.deepEqual(res.images.map((i: { outputSize: unknown }) => i.outputSize), [{ width: 64, height: 64 }, { width: 64, height: 64 }]);
});

fxTest('in a folder, an image that cannot be decoded fails alone: the others are written, exit 1, no partial file', async (t) => {
  const outDir = join(dir, 'mixed-out');
  const r = await run('upscale', MIXED, outDir, ...TINY, '--steps', '1', '--json');
  t.is(r.code, 1);
  const res = JSON.parse(r.out.join('\n'));
  t.false(res.ok);
  const byName = Object.fromEntries(res.images.map((i: { input: string }) => [i.input, i]));
  t.deepEqual(byName[join(MIXED, 'good.png')].outputSize, { width: 64, height: 64 });
  t.regex(byName[join(MIXED, 'cut.png')].error, /cut\.png: cannot decode image/);
  t.is(byName[join(MIXED, 'cut.png')].outputSize, undefined);
  t.deepEqual(readdirSync(outDir), ['good.png']);
  t.is(r.err.length, 1);
  t.regex(r.err[0]!, /^stablesr: .*cut\.png: cannot decode image/);
});

fxTest('no output file is left behind when a run fails', async (t) => {
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
  // A single image that cannot be decoded (the header reads, the pixel data is cut off).
  const c = await run('upscale', join(MIXED, 'cut.png'), out, ...TINY, '--steps', '1');
  t.is(c.code, 1);
  t.deepEqual(c.err.length, 1);
  t.regex(c.err[0]!, /^stablesr: .*cut\.png: cannot decode image/);
  t.false(existsSync(out));
});

fxTest('Ctrl-C during sampling stops the run: "interrupted", exit 1, no output file or folder', async (t) => {
  for (const [input, output] of [[IN, join(dir, 'abort-out.png')], [IMAGES, join(dir, 'abort-dir')]] as const) {
    const ctrl = new AbortController();
    let writes = 0;
    // The progress bar draws on the first sampling step: abort there, as a SIGINT handler would.
    const progress = { columns: 80, write: () => (writes++, ctrl.abort()) };
    const r = await runWith({ signal: ctrl.signal, progress }, 'upscale', input, output, ...TINY, '--steps', '4');
    t.true(writes > 0);
    t.is(r.code, 1, r.err.join(' | '));
    t.deepEqual(r.err, ['stablesr: interrupted']);
    t.deepEqual(r.out, []);
    t.false(existsSync(output));
    t.deepEqual(readdirSync(dir).filter((f) => f.includes('abort-')), []);
  }
});

/** How many outputs a fixture's manifest lists (one free-running comparison line each). */
function outputCount(name: string): number {
  return Object.keys((JSON.parse(readFileSync(join(fixtures, name, 'manifest.json'), 'utf8')) as { outputs: object }).outputs).length;
}

fxTest('parity runs fixture folders (a root folder stands for the fixtures inside it) and ends with the count line', async (t) => {
  const one = await run('parity', join(fixtures, 'schedule'), join(fixtures, 'colorfix'));
  t.is(one.code, 0, one.out.join('\n'));
  t.is(one.out.at(-1), `${outputCount('schedule') + outputCount('colorfix')} passed, 0 failed`);
  // A folder of fixtures expands to each of them; here a copy-free root made of symlinks to two fixtures.
  const linked = join(dir, 'fixture-root');
  mkdirSync(linked);
  symlinkSync(join(fixtures, 'schedule'), join(linked, 'schedule'));
  symlinkSync(join(fixtures, 'vae.posterior'), join(linked, 'vae.posterior'));
  const all = await run('parity', linked, '--mode', 'free');
  t.is(all.code, 0, all.out.join('\n'));
  t.is(all.out.at(-1), `${outputCount('schedule') + outputCount('vae.posterior')} passed, 0 failed`);
  // A folder that is not a fixture fails with the reason and a non-zero exit.
  const bad = await run('parity', join(dir, 'emptydir'));
  t.is(bad.code, 1);
  t.regex(bad.out.join('\n'), /not a fixture folder \(no manifest\.json\)[\s\S]*0 passed, 1 failed$/);
});

// Issue 13 item 2: --input-size reaches the pipeline, on a model unlike the fixtures' (VAE factor 4, U-Net
// downsampling 2, image_size 64). A 24×20 input at --scale 2 (canvas rules, fixtures README 7.13):
// * default input size 64: s = max(64/20, 2) = 3.2 → 64×76, padded to 96×96 → latent 24×24, tile 64/4 = 16,
//   overlap 8 → origins 0, 8 on each axis: 4 tiles per step;
// * --input-size 32: s = max(32/20, 2) = 2 → 40×48, padded to 64×64 → latent 16×16, tile 32/4 = 8, overlap 4 →
//   origins 0, 4, 8 on each axis: 9 tiles per step.
// Both outputs are trunc(24·2) × trunc(20·2) = 48×40.
test.serial('--input-size is honoured end to end (VAE factor 4, input size ≠ image_size)', async (t) => {
  const { writeTinyCheckpoint } = await import('../../stablesr/test/tinyCheckpoint.js');
  const m = await writeTinyCheckpoint({ vaeLevels: 2, imageSize: 64 });
  try {
    const input = join(m.dir, 'in.png');
    const px = Uint8Array.from({ length: 24 * 20 * 3 }, (_, i) => (i * 53) % 256);
    await sharp(px, { raw: { width: 24, height: 20, channels: 3 } }).png().toFile(input);
    const weights = ['--checkpoint', m.checkpoint, '--cfw', m.cfw, '--config', m.configFile, '--scale', '2', '--steps', '1', '--json'];
    const tilesOf = async (...extra: string[]) => {
      const r = await run('upscale', input, join(m.dir, `out${extra.length}.png`), ...weights, ...extra);
      t.is(r.code, 0, r.err.join('\n'));
      const img = (JSON.parse(r.out.join('\n')) as { images: { tiles: number; evaluations: number; outputSize: { width: number; height: number } }[] }).images[0]!;
      t.deepEqual(img.outputSize, { width: 48, height: 40 });
      t.is(img.evaluations, img.tiles, 'one step: evaluations = tiles');
      return img.tiles;
    };
    t.is(await tilesOf(), 4);
    t.is(await tilesOf('--input-size', '32'), 9);
  } finally {
    rmSync(m.dir, { recursive: true, force: true });
  }
});
