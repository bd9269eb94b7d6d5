// `stablesr upscale` with no weight options runs the shipped default model, offline; the flags it does not take
// and the factors it was not trained for are refused naming them.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { runCli } from './runCli.js';

const dir = mkdtempSync(join(tmpdir(), 'stablesr-default-'));
const IN = join(dir, 'in.png');
test.before(async () => {
  await sharp(Uint8Array.from({ length: 16 * 24 * 3 }, (_, i) => Math.round(127 + 90 * Math.sin(i / 17))), { raw: { width: 24, height: 16, channels: 3 } }).png().toFile(IN);
});
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const run = runCli;

test.serial('upscale without --checkpoint uses the default model and writes a 4× image', async (t) => {
  const r = await run('upscale', IN, join(dir, 'out.png'), '--json', '--quiet');
  t.is(r.code, 0, r.err);
  const res = JSON.parse(r.out) as { model: string; images: { outputSize: { width: number; height: number }; steps: number }[] };
  t.is(res.model, 'irsde');
  t.deepEqual(res.images[0]!.outputSize, { width: 96, height: 64 });
  const meta = await sharp(join(dir, 'out.png')).metadata();
  t.deepEqual([meta.width, meta.height], [96, 64]);
});

test.serial('flags the default model does not take, and other factors, are usage errors naming them', async (t) => {
  const cfw = await run('upscale', IN, join(dir, 'x.png'), '--cfw', IN);
  t.is(cfw.code, 2);
  t.regex(cfw.err, /--cfw applies to StableSR checkpoints; the default model \(no --checkpoint: .*model\.safetensors\) is an IR-SDE model/);
  const forced = await run('upscale', IN, join(dir, 'x.png'), '--model', 'stablesr');
  t.is(forced.code, 2);
  t.regex(forced.err, /upscale needs --checkpoint FILE/);
  const scale = await run('upscale', IN, join(dir, 'x.png'), '--scale', '2', '--quiet');
  t.not(scale.code, 0);
  t.regex(scale.err, /option scale 2: this model was trained for ×4 only/);
});
