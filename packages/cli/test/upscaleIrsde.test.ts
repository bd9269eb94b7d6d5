// `stablesr upscale` with an IR-SDE checkpoint (the authors' ConditionalUNet key layout, tiny synthetic weights written
// here, no config): the family is recognised from the keys, the network's structure read off them, and the
// IR-SDE flags are checked like every other flag.
import test from 'ava';
import { main } from '@stablesr/cli';
import { recordWeightRequests } from '@stablesr/core';
import { disposeConditionalUNet, loadConditionalUNet } from '@stablesr/irsde';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { writeTinySafetensors } from '../../stablesr/test/tinyStableSR.js';

const dir = mkdtempSync(join(tmpdir(), 'stablesr-irsde-'));
const IN = join(dir, 'in.png');
const CKPT = join(dir, 'tiny-irsde.safetensors');

test.before(async () => {
  await sharp(Uint8Array.from({ length: 10 * 14 * 3 }, (_, i) => (i * 53) % 256), { raw: { width: 14, height: 10, channels: 3 } }).png().toFile(IN);
  const keys = recordWeightRequests((v) => loadConditionalUNet({ in_nc: 3, out_nc: 3, nf: 4, depth: 2 }, v), disposeConditionalUNet);
  await writeTinySafetensors(CKPT, keys, 4);
});
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

async function upscale(out: string, ...flags: string[]) {
  const lines: string[] = [];
  const err: string[] = [];
  const code = await main(['upscale', IN, join(dir, out), '--checkpoint', CKPT, '--json', '--quiet', ...flags], { out: (s) => lines.push(s), err: (s) => err.push(s) });
  type Res = { model: string; ok: boolean; images: { outputSize: { width: number; height: number }; steps: number; seed: number }[] };
  return { code, err: err.join('\n'), res: code === 0 ? (JSON.parse(lines.join('\n')) as Res) : undefined };
}

test.serial('an IR-SDE checkpoint is recognised by its keys and upscales 4× (sde and posterior, untiled and in pixel tiles)', async (t) => {
  const a = await upscale('a.png', '--steps', '3', '--sampler', 'posterior', '--seed', '7');
  t.is(a.code, 0, a.err);
  t.is(a.res!.model, 'irsde');
  t.deepEqual(a.res!.images[0]!.outputSize, { width: 56, height: 40 });
  t.is(a.res!.images[0]!.steps, 3);
  const meta = await sharp(join(dir, 'a.png')).metadata();
  t.deepEqual([meta.width, meta.height], [56, 40]);
  const again = await upscale('a2.png', '--steps', '3', '--sampler', 'posterior', '--seed', '7');
  t.is(again.code, 0, again.err);
  t.true(readFileSync(join(dir, 'a.png')).equals(readFileSync(join(dir, 'a2.png'))), 'same seed, same bytes');
  const other = await upscale('b.png', '--steps', '3', '--sampler', 'posterior', '--seed', '8');
  t.false(readFileSync(join(dir, 'a.png')).equals(readFileSync(join(dir, 'b.png'))), 'another seed, another image');
  // The reverse SDE runs every timestep of the model (no metadata: the authors' T = 100).
  const sde = await upscale('s.png', '--sampler', 'sde', '--seed', '7');
  t.is(sde.code, 0, sde.err);
  t.is(sde.res!.images[0]!.steps, 100);
  const ens = await upscale('e.png', '--steps', '3', '--sampler', 'posterior', '--seed', '7', '--self-ensemble', 'on');
  t.is(ens.code, 0, ens.err);
  t.false(readFileSync(join(dir, 'a.png')).equals(readFileSync(join(dir, 'e.png'))), 'the self-ensemble averages a non-symmetric network into another image');
  const tiled = await upscale('c.png', '--steps', '2', '--sampler', 'posterior', '--tile-size', '24', '--tile-overlap', '8', '--scale', '2');
  t.is(tiled.code, 0, tiled.err);
  t.deepEqual(tiled.res!.images[0]!.outputSize, { width: 28, height: 20 });
});

test.serial('IR-SDE flags are checked, and StableSR-only flags are refused naming them', async (t) => {
  const prompt = await upscale('x.png', '--prompt', 'a cat');
  t.is(prompt.code, 2);
  t.regex(prompt.err, /--prompt applies to StableSR checkpoints; .*tiny-irsde\.safetensors is an IR-SDE model/);
  const cfw = await upscale('x.png', '--cfw', CKPT);
  t.is(cfw.code, 2);
  t.regex(cfw.err, /--cfw applies to StableSR/);
  const sampler = await upscale('x.png', '--sampler', 'ddim');
  t.is(sampler.code, 2);
  t.regex(sampler.err, /--sampler must be one of sde, posterior, got "ddim"/);
  const overlap = await upscale('x.png', '--tile-size', '16', '--tile-overlap', '16');
  t.is(overlap.code, 2);
  t.regex(overlap.err, /--tile-overlap must be smaller than --tile-size/);
  const sdeSteps = await upscale('x.png', '--sampler', 'sde', '--steps', '3');
  t.is(sdeSteps.code, 2);
  t.regex(sdeSteps.err, /--steps 3: the sde sampler runs every timestep of the model \(T = 100\); fewer steps need the posterior sampler/);
  const tooMany = await upscale('x.png', '--steps', '101');
  t.is(tooMany.code, 2);
  t.regex(tooMany.err, /--steps must be ≤ 100 \(the model's T/);
  const ensBad = await upscale('x.png', '--self-ensemble', 'yes');
  t.is(ensBad.code, 2);
  t.regex(ensBad.err, /--self-ensemble must be one of on, off, got "yes"/);
  const irsdeOnly = await upscale('x.png', '--model', 'stablesr', '--temperature', '0.5');
  t.is(irsdeOnly.code, 2);
  t.regex(irsdeOnly.err, /--temperature applies to IR-SDE models/);
  const model = await upscale('x.png', '--model', 'sdxl');
  t.is(model.code, 2);
  t.regex(model.err, /--model must be one of stablesr, irsde/);
  // Forced to the other family, the StableSR loader names the file and what is missing.
  const forced = await upscale('x.png', '--model', 'stablesr', '--steps', '2');
  t.not(forced.code, 0);
  t.regex(forced.err, /tiny-irsde\.safetensors/);
});
