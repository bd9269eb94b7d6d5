import test from 'ava';
import { fixtureWeightFile, requireFixtures } from '../../../test/fixtureGate.js';
import { type CliIo, main } from '@stablesr/cli';
import { openSafetensors } from '@stablesr/core';
import { TextToLatent } from '@stablesr/unet';
import * as tf from '@tensorflow/tfjs-core';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const root = requireFixtures('generate CLI tests');
// The tiny SD-2.x model of the golden fixtures, in the official YAML layout (shared with the unet tests).
const CONFIG = join(repo, 'packages/unet/test/data/tiny-txt2img.yaml');

if (root) {
  // The tiny SD model's U-Net, VAE and text tower files, as the sampler.txt2img-ddim manifest names them.
  const [UNET, VAE, TEXT] = [0, 1, 2].map((i) => fixtureWeightFile(join(root, 'sampler.txt2img-ddim'), i)) as [string, string, string];
  const VOCAB = join(root, 'tokenizer/bpe_simple_vocab_16e6.txt.gz');
  const dir = mkdtempSync(join(tmpdir(), 'stablesr-generate-'));
  test.after.always(() => rmSync(dir, { recursive: true, force: true }));

  const args = (out: string, ...extra: string[]) => [
    'generate', '--prompt', 'a photo of a cat', '--negative-prompt', 'blurry',
    '--checkpoint', UNET, '--text-encoder', TEXT, '--tokenizer', VOCAB, '--config', CONFIG,
    '--steps', '4', '--guidance', '5', '--width', '96', '--height', '64', '--seed', '11',
    '--latents-out', join(out, 'lat.safetensors'), ...extra,
  ];

  /** `argv` with the value after `flag` replaced. */
  const withOpt = (argv: string[], flag: string, value: string) => argv.map((a, i) => (argv[i - 1] === flag ? value : a));

  async function run(argv: string[], io: Partial<CliIo> = {}): Promise<{ code: number; out: string[]; err: string[] }> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(argv, { out: (s) => out.push(s), err: (s) => err.push(s), ...io });
    return { code, out, err };
  }

  function newDir(name: string): string {
    const d = join(dir, name);
    mkdirSync(d);
    return d;
  }

  test.serial('generate writes NCHW float32 latents with metadata and the decoded PNG, equal to the library call', async (t) => {
    const out = newDir('ok');
    const r = await run(args(out, '--vae', VAE, '--image-out', join(out, 'img.png'), '--json'));
    t.is(r.code, 0, r.err.join('\n'));
    const summary = JSON.parse(r.out.join('\n')) as { latentShape: number[]; imageSize: { width: number; height: number } };
    t.deepEqual(summary.latentShape, [1, 4, 8, 12]);
    t.deepEqual(summary.imageSize, { width: 96, height: 64 });
    t.deepEqual(readdirSync(out).sort(), ['img.png', 'lat.safetensors'], 'no temporary file left');

    const src = openSafetensors(join(out, 'lat.safetensors'));
    try {
      t.deepEqual([...src.entries().keys()], ['latents']);
      const e = src.entries().get('latents')!;
      t.is(e.dtype, 'F32');
      t.deepEqual([...e.shape], [1, 4, 8, 12]);
      t.like(src.metadata, { layout: 'NCHW', prompt: 'a photo of a cat', negative_prompt: 'blurry', steps: '4', guidance: '5', sampler: 'ddim', seed: '11', width: '96', height: '64', parameterization: 'v', scale_factor: '0.18215' });

      // The file holds exactly what the library generates for the same settings, transposed to NCHW.
      const gen = await TextToLatent.load({ checkpoint: UNET, textEncoder: TEXT, tokenizer: VOCAB, config: CONFIG });
      try {
        const lib = await gen.generate({ prompt: 'a photo of a cat', negativePrompt: 'blurry', steps: 4, guidanceScale: 5, width: 96, height: 64, seed: 11 });
        const nchw = tf.transpose(lib.latents, [0, 3, 1, 2]);
        t.deepEqual(Array.from(e.read()), Array.from(await nchw.data()));
        tf.dispose([nchw, lib.latents]);
      } finally {
        gen.dispose();
      }
    } finally {
      src.close();
    }
    const meta = await sharp(join(out, 'img.png')).metadata();
    t.like(meta, { format: 'png', width: 96, height: 64, channels: 3 });
  });

  test.serial('latents only: no VAE needed, no image written', async (t) => {
    const out = newDir('latonly');
    const r = await run(args(out));
    t.is(r.code, 0, r.err.join('\n'));
    t.regex(r.out.join('\n'), /^wrote .*lat\.safetensors \(latents \[1, 4, 8, 12\]\) in /);
    t.deepEqual(readdirSync(out), ['lat.safetensors']);
  });

  test.serial('a failing run leaves no file behind', async (t) => {
    // Bad size for this U-Net (latent side must be a multiple of 4): bad usage, found from the config before loading.
    const bad = newDir('badsize');
    const r1 = await run(withOpt(args(bad, '--vae', VAE, '--image-out', join(bad, 'img.png')), '--width', '72'));
    t.is(r1.code, 2);
    t.deepEqual(r1.err, ['stablesr: --width: width 72 must be a multiple of 32 (VAE downsampling 8 × U-Net 2^(levels−1) = 4)']);
    t.deepEqual(readdirSync(bad), []);

    // Interrupted during sampling.
    const aborted = newDir('aborted');
    const ctl = new AbortController();
    const r2 = await run(args(aborted, '--vae', VAE, '--image-out', join(aborted, 'img.png')), { signal: ctl.signal, progress: { columns: 80, write: () => ctl.abort() } });
    t.is(r2.code, 1);
    t.deepEqual(r2.err, ['stablesr: interrupted']);
    t.deepEqual(readdirSync(aborted), []);

    // The latents cannot be written after the image was: the image is removed again.
    const imgDir = newDir('img-side');
    const latDir = newDir('lat-side');
    const r3 = await run(args(latDir, '--vae', VAE, '--image-out', join(imgDir, 'img.png')), { progress: { columns: 80, write: () => rmSync(latDir, { recursive: true, force: true }) } });
    t.is(r3.code, 1);
    t.is(r3.err.length, 1);
    t.regex(r3.err[0]!, /^stablesr: .*lat\.safetensors: cannot write the latents/);
    t.deepEqual(readdirSync(imgDir), []);
    t.false(existsSync(latDir));
  });

  test.serial('load errors are one line, exit 1', async (t) => {
    const out = newDir('loaderr');
    const r = await run(args(out).filter((a, i, all) => a !== '--text-encoder' && all[i - 1] !== '--text-encoder'));
    t.is(r.code, 1);
    t.is(r.err.length, 1);
    t.regex(r.err[0]!, /^stablesr: .*unet\.safetensors: the checkpoint has no cond_stage_model\.\* tensors \(text encoder\)/);
    const r2 = await run(args(out).filter((a, i, all) => a !== '--tokenizer' && all[i - 1] !== '--tokenizer'));
    t.is(r2.code, 1);
    t.regex(r2.err[0]!, /a tokenizer is required/);
    t.deepEqual(readdirSync(out), []);
  });
}
