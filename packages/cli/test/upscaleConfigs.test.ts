// `stablesr upscale` with configurations the public fixtures do not show, on tiny checkpoints written here
// (../../stablesr/test/tinyStableSR.ts): an official-layout YAML without a CFW section, CFW files with other numbers
// of fuse blocks, a separate CFW YAML (`--cfw-config`), and no YAML at all.
import test from 'ava';
import { main } from '@stablesr/cli';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { tinyCfwKeys, tinyCfwYaml, tinyOfficialYaml, tinyStableSRKeys, writeTinySafetensors } from '../../stablesr/test/tinyStableSR.js';

const dir = mkdtempSync(join(tmpdir(), 'stablesr-configs-'));
const IN = join(dir, 'in.png');
const CKPT = join(dir, 'tiny-sr.safetensors');
const CFW = (n: number) => join(dir, `tiny-cfw-${n}.safetensors`);
const YAML = join(dir, 'v2-finetune_text_T_tiny.yaml');
const CFW_YAML = (n?: number) => join(dir, `autoencoder_resi${n ?? ''}.yaml`);

test.before(async () => {
  await sharp(Uint8Array.from({ length: 16 * 16 * 3 }, (_, i) => (i * 37) % 256), { raw: { width: 16, height: 16, channels: 3 } }).png().toFile(IN);
  await writeTinySafetensors(CKPT, await tinyStableSRKeys(), 1);
  for (const n of [1, 3]) await writeTinySafetensors(CFW(n), await tinyCfwKeys(n), 2);
  writeFileSync(YAML, tinyOfficialYaml());
  writeFileSync(CFW_YAML(), tinyCfwYaml());
  writeFileSync(CFW_YAML(2), tinyCfwYaml(2));
});
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

async function upscale(out: string, ...flags: string[]) {
  const lines: string[] = [];
  const err: string[] = [];
  const code = await main(['upscale', IN, join(dir, out), '--checkpoint', CKPT, '--steps', '2', '--seed', '3', '--json', ...flags], { out: (s) => lines.push(s), err: (s) => err.push(s) });
  return { code, err, res: code === 0 ? (JSON.parse(lines.join('\n')) as { ok: boolean; images: { outputSize: { width: number; height: number } }[] }) : undefined };
}

for (const n of [1, 3]) {
  test(`an official YAML without a CFW section upscales through a CFW file with ${n} RRDB(s) per fusion layer`, async (t) => {
    const r = await upscale(`yaml-${n}.png`, '--config', YAML, '--cfw', CFW(n));
    t.is(r.code, 0, r.err.join(' | '));
    t.true(r.res!.ok);
    t.deepEqual(r.res!.images[0]!.outputSize, { width: 64, height: 64 });
  });
}

test('--cfw-config takes the official autoencoder YAML; the fuse-block count it leaves out is read off the file', async (t) => {
  const r = await upscale('cfw-config.png', '--config', YAML, '--cfw', CFW(1), '--cfw-config', CFW_YAML());
  t.is(r.code, 0, r.err.join(' | '));
  t.true(r.res!.ok);
});

test('a --cfw-config whose num_fuse_block contradicts the CFW file fails naming the file and the key', async (t) => {
  const r = await upscale('cfw-config-2.png', '--config', YAML, '--cfw', CFW(1), '--cfw-config', CFW_YAML(2));
  t.not(r.code, 0);
  t.regex(r.err.join('\n'), /tiny-cfw-1\.safetensors \[decoder\.fusion_layer_\d\.encode_enc_2\.1\.rdb1\.conv1\.weight\]: missing key/);
});

test('--cfw-config must be a YAML or JSON file', async (t) => {
  const r = await upscale('bad.png', '--config', YAML, '--cfw', CFW(1), '--cfw-config', CKPT);
  t.is(r.code, 2);
  t.regex(r.err.join('\n'), /--cfw-config: expected a \.yaml, \.yml or \.json file/);
});
