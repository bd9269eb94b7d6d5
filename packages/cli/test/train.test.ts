// `stablesr train` end to end on a folder of small generated photographs-like images with a tiny network: it trains,
// writes an upscaling model and a curve, resumes (also after kill -9), and refuses bad input naming the file or option.
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { runCli } from './runCli.js';
import { encodeSafetensors, openSafetensors } from '@stablesr/core';

const dir = mkdtempSync(join(tmpdir(), 'stablesr-train-'));
const DATA = join(dir, 'photos');
const TINY_FLAGS: Record<string, string> = { nf: '4', depth: '1', 'pixel-unshuffle': '2', patch: '16', batch: '1', T: '4', 'val-crop': '16', 'val-count': '1', lr: '1e-3', engine: 'tfjs' };
/** The tiny run's flags, with some replaced. */
const tiny = (over: Record<string, string> = {}): string[] => [...Object.entries({ ...TINY_FLAGS, ...over }).flatMap(([k, v]) => [`--${k}`, v]), '--quiet'];
const TINY = tiny();

test.before(async () => {
  mkdirSync(DATA);
  for (let k = 0; k < 3; k++) {
    const w = 40 + 8 * k, h = 36;
    const px = Uint8Array.from({ length: w * h * 3 }, (_, i) => {
      const p = Math.floor(i / 3), x = p % w, y = Math.floor(p / w), c = i % 3;
      return Math.round(127 + 100 * Math.sin((x * (k + 1)) / 5 + c) * Math.cos(y / 7));
    });
    await sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toFile(join(DATA, `p${k}.png`));
  }
});
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const run = runCli;

type Result = { startStep: number; step: number; loss: number; valPsnr: number; checkpoint: string };

test.serial('train writes a model, a checkpoint and a curve; the same command resumes; the model upscales 4×', async (t) => {
  const out = join(dir, 'run');
  const a = await run('train', '--data', DATA, '--out', out, '--steps', '3', '--val-every', '3', '--json', ...TINY);
  t.is(a.code, 0, a.err);
  const ra = JSON.parse(a.out) as Result;
  t.is(ra.startStep, 0);
  t.is(ra.step, 3);
  t.true(Number.isFinite(ra.loss) && ra.loss > 0);
  t.true(Number.isFinite(ra.valPsnr) && ra.valPsnr > 5, `valPsnr ${ra.valPsnr}`);
  t.is(ra.checkpoint, join(out, 'checkpoint.safetensors'));
  const curve = await sharp(join(out, 'training-curve.png')).metadata();
  t.is(curve.format, 'png');
  const b = await run('train', '--data', DATA, '--out', out, '--steps', '5', '--val-every', '5', '--json', ...TINY);
  t.is(b.code, 0, b.err);
  const rb = JSON.parse(b.out) as Result;
  t.is(rb.startStep, 3);
  t.is(rb.step, 5);
  const done = await run('train', '--data', DATA, '--out', out, '--steps', '5', '--json', ...TINY);
  t.is((JSON.parse(done.out) as Result).startStep, 5, 'a finished run has nothing left to do');
  // The model carries its structure and SDE: upscale needs no other option.
  const img = join(dir, 'small.png');
  await sharp(join(DATA, 'p0.png')).extract({ left: 0, top: 0, width: 12, height: 10 }).toFile(img);
  const up = await run('upscale', img, join(dir, 'small-4x.png'), '--checkpoint', join(out, 'model.safetensors'), '--json', '--quiet', '--engine', 'tfjs');
  t.is(up.code, 0, up.err);
  t.deepEqual((JSON.parse(up.out) as { images: { outputSize: unknown }[] }).images[0]!.outputSize, { width: 48, height: 40 });
});

test.serial('--parameterization edm and --val-temperature are recorded in the model, which upscales with them; a temperature outside 0…2 is refused', async (t) => {
  const out = join(dir, 'edm');
  const r = await run('train', '--data', DATA, '--out', out, '--steps', '2', '--val-every', '2', '--parameterization', 'edm', '--objective', 'x0', '--val-temperature', '0', '--json', ...TINY);
  t.is(r.code, 0, r.err);
  const m = openSafetensors(join(out, 'model.safetensors'));
  const meta = JSON.parse(m.metadata['stablesr.irsde']!) as { parameterization: string; temperature: number };
  m.close();
  t.like(meta, { parameterization: 'edm', temperature: 0 });
  const up = await run('upscale', join(DATA, 'p0.png'), join(dir, 'edm-up.png'), '--checkpoint', join(out, 'model.safetensors'), '--steps', '2', '--engine', 'tfjs', '--quiet');
  t.is(up.code, 0, up.err);
  const bad = await run('train', '--data', DATA, '--out', join(dir, 'edm-bad'), '--steps', '1', '--val-temperature', '3', ...TINY);
  t.is(bad.code, 2);
  t.regex(bad.err, /--val-temperature must be ≤ 2/);
});

test.serial('--workers 1 trains data-parallel, and rerunning the finished run exits cleanly while its worker starts', async (t) => {
  const out = join(dir, 'workers');
  for (let i = 0; i < 2; i++) {
    const r = await run('train', '--data', DATA, '--out', out, '--steps', '2', '--val-every', '100', '--workers', '1', '--json', ...tiny({ batch: '2' }));
    t.is(r.code, 0, r.err);
    t.is((JSON.parse(r.out) as Result).step, 2);
  }
});

test.serial('resuming continues the same random stream: 2 + 2 steps equal 4 steps', async (t) => {
  const split = join(dir, 'split');
  const whole = join(dir, 'whole');
  t.is((await run('train', '--data', DATA, '--out', split, '--steps', '2', '--val-every', '100', ...tiny({ 'lr-schedule': 'constant' }))).code, 0);
  t.is((await run('train', '--data', DATA, '--out', split, '--steps', '4', '--val-every', '100', ...tiny({ 'lr-schedule': 'constant' }))).code, 0);
  t.is((await run('train', '--data', DATA, '--out', whole, '--steps', '4', '--val-every', '100', ...tiny({ 'lr-schedule': 'constant' }))).code, 0);
  const a = openSafetensors(join(split, 'model.safetensors'));
  const b = openSafetensors(join(whole, 'model.safetensors'));
  for (const [k, e] of a.entries()) t.deepEqual(Array.from(e.read()), Array.from(b.entries().get(k)!.read()), k);
  a.close();
  b.close();
});

test.serial('kill -9 loses at most the steps since the last checkpoint, and the rerun resumes', async (t) => {
  const out = join(dir, 'killed');
  const bin = fileURLToPath(new URL('../bin/stablesr-dev.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import=tsx', '--conditions=stablesr-source', bin, 'train', '--data', DATA, '--out', out, '--steps', '1000', '--checkpoint-every', '1', '--val-every', '1000', ...TINY], { stdio: 'ignore' });
  const ckpt = join(out, 'checkpoint.safetensors');
  const t0 = Date.now();
  while (!existsSync(ckpt) && Date.now() - t0 < 120_000) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 1500));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  t.true(existsSync(ckpt), 'a checkpoint was written before the kill');
  const r = await run('train', '--data', DATA, '--out', out, '--steps', '1', '--json', ...TINY);
  t.is(r.code, 0, r.err);
  t.true((JSON.parse(r.out) as Result).startStep >= 1, 'resumed from the checkpoint the killed run left');
});

test.serial('bad input: a one-line error naming the option or file, and no checkpoint written', async (t) => {
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  const e1 = await run('train', '--data', empty, '--out', join(dir, 'o1'), '--steps', '1', ...TINY);
  t.is(e1.code, 1);
  t.regex(e1.err, /--data .*empty: no images/);
  const e2 = await run('train', '--data', DATA, '--out', join(dir, 'o2'), '--steps', '1', ...tiny({ patch: '64' }));
  t.regex(e2.err, /p0\.png: 40×36 is smaller than the 64×64 training patch/);
  t.false(existsSync(join(dir, 'o2', 'checkpoint.safetensors')));
  const e3 = await run('train', '--data', DATA, '--out', join(dir, 'o3'), '--steps', '0');
  t.is(e3.code, 2);
  t.regex(e3.err, /--steps must be ≥ 1/);
  const e4 = await run('train', '--data', DATA, '--out', join(dir, 'o4'), '--steps', '1', '--objective', 'eps');
  t.regex(e4.err, /--objective eps does not apply to --model irsde/);
  const e5 = await run('train', '--data', DATA, '--out', join(dir, 'o5'), '--steps', '1', ...tiny({ patch: '18' }));
  t.regex(e5.err, /--patch 18 must be a multiple of --scale 4/);
  // Another model's checkpoint in --out.
  const other = join(dir, 'other');
  t.is((await run('train', '--data', DATA, '--out', other, '--steps', '1', ...TINY)).code, 0);
  const e6 = await run('train', '--data', DATA, '--out', other, '--steps', '2', ...tiny({ nf: '8' }));
  t.regex(e6.err, /holds a checkpoint of another model \(network\.nf 4 there, 8 asked\)/);
  // A damaged checkpoint is refused, not resumed.
  const ckpt = join(other, 'checkpoint.safetensors');
  const bytes = readFileSync(ckpt);
  bytes[bytes.length - 5]! ^= 0x10;
  writeFileSync(ckpt, bytes);
  const e7 = await run('train', '--data', DATA, '--out', other, '--steps', '2', ...TINY);
  t.regex(e7.err, /cannot resume from .*checkpoint\.safetensors: .*damaged/);
  // NaN loss: starting from weights holding a NaN stops at step 1, and nothing is written.
  const good = openSafetensors(join(other, 'model.safetensors'));
  const tensors = new Map([...good.entries()].map(([k, e]) => [k, { shape: e.shape, data: Float32Array.from(e.read()).fill(Number.NaN, 0, k === 'final_conv.weight' ? 1 : 0) }]));
  good.close();
  const nanInit = join(dir, 'nan.safetensors');
  writeFileSync(nanInit, encodeSafetensors(tensors));
  const e8 = await run('train', '--data', DATA, '--out', join(dir, 'o8'), '--steps', '3', ...tiny({ init: nanInit }));
  t.regex(e8.err, /training diverged: the loss is NaN at step 1; the last good checkpoint is .*o8.checkpoint\.safetensors \(step 0\)/);
  t.false(existsSync(join(dir, 'o8', 'checkpoint.safetensors')));
});
