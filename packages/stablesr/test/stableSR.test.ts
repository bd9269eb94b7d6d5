// End to end through the public API (`StableSR.load` + `upscale`) on the tiny `sr-a` / `text-a` bundles of the
// golden fixtures: reference reproduction (the canvas scripts' outputs), image formats, determinism, memory,
// progress, abort, and clear errors for bad input.
import test from 'ava';
import { fixtureContextWeightFile, fixtureWeightFile, requireFixtures } from '../../../test/fixtureGate.js';
import * as tf from '@tensorflow/tfjs-core';
import { AbortError, Fixture, type RawImage } from '@stablesr/core';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StableSR, type StableSRLoadOptions, type UpscaleOptions } from '../src/stableSR.js';

const root = requireFixtures('StableSR end-to-end tests');

if (root) {
  registerTests(root);
}

function registerTests(root: string): void {
  // The tiny model's files, as the sampler manifests name them.
  const sr1 = join(root, 'sampler.ddpm-sr');
  const files = {
    checkpoint: fixtureWeightFile(sr1, 0),
    cfw: fixtureWeightFile(sr1, 1),
    textEncoder: fixtureContextWeightFile(sr1),
    tokenizer: join(root, 'tokenizer/bpe_simple_vocab_16e6.txt.gz'),
    plainSd: fixtureWeightFile(join(root, 'sampler.txt2img-ddim'), 0),
  };
  const manifest = (name: string) => JSON.parse(readFileSync(join(root, name, 'manifest.json'), 'utf8')) as { config: Record<string, unknown> };
  // The tiny model's configuration, exactly as the sampler fixtures give it.
  const modelConfig = manifest('sampler.ddpm-sr').config.model as Record<string, unknown>;
  const base: StableSRLoadOptions = { checkpoint: files.checkpoint, cfw: files.cfw, config: modelConfig, textEncoder: files.textEncoder };
  // inputSize 64 = the fixtures' `input_size` (the tiny model's "512").
  const fast: UpscaleOptions = { steps: 2, inputSize: 64 };

  let sr: StableSR;
  test.before(async () => {
    sr = await StableSR.load({ ...base, tokenizer: files.tokenizer });
  });
  test.after.always(() => sr?.dispose());

  /** A deterministic test picture with smooth structure (values 0…255). */
  function picture(width: number, height: number, channels: RawImage['channels']): RawImage {
    const data = new Uint8Array(width * height * channels);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        for (let c = 0; c < channels; c++) {
          data[(y * width + x) * channels + c] = Math.round(127.5 + 120 * Math.sin(0.7 * x + 1.3 * c) * Math.cos(0.45 * y - c));
        }
      }
    }
    return { data, width, height, channels };
  }

  /** Max |actual/255 − expected| over the top-left `h × w` part of an NCHW [1, 3, H, W] reference in [0, 1]. */
  function maxErrVsReference(img: RawImage, expected: Float32Array, shape: number[]): number {
    const [, c, H, W] = shape as [number, number, number, number];
    let worst = 0;
    for (let y = 0; y < img.height; y++) {
      for (let x = 0; x < img.width; x++) {
        for (let k = 0; k < c; k++) {
          const a = img.data[(y * img.width + x) * img.channels + k]! / 255;
          const e = expected[(k * H + y) * W + x]!;
          worst = Math.max(worst, Math.abs(a - e));
        }
      }
    }
    return worst;
  }

  // The public API reproduces the reference canvas scripts (README 7.13, 7.15) with the recorded noise: the
  // 8-bit output equals the reference `output.wavelet` within its free-running tolerance plus half a quantisation step.
  // The U-Net's weights sit on the backend for one and on the host (uploaded layer by layer) for the other.
  for (const [name, weights] of [['sampler.ddpm-sr-tiled', 'backend'], ['sampler.ddim-tiled', 'host']] as const) {
    test.serial(`upscale reproduces the reference ${name} output (U-Net weights on the ${weights})`, async (t) => {
      const fx = new Fixture(join(root, name));
      try {
        const c = fx.config as Record<string, unknown> & { parameterization: 'eps' | 'v' };
        const ddim = c.ddim_steps !== undefined;
        const model = await StableSR.load({ ...base, tokenizer: files.tokenizer, config: { ...(c.model as object), parameterization: c.parameterization }, weights });
        const lr = fx.inputNhwc('lr') as tf.Tensor4D;
        try {
          const res = await model.upscale(lr, {
            scale: c.upscale as number,
            inputSize: c.input_size as number,
            tileSize: c.tile_size as number,
            tileOverlap: c.tile_overlap as number,
            sampler: ddim ? 'ddim' : 'ddpm',
            steps: (ddim ? c.ddim_steps : c.ddpm_steps) as number,
            fidelity: c.dec_w as number,
            colorFix: 'wavelet',
            noise: fx.noise(),
            quantize: 'round',
            ...(ddim ? { eta: c.ddim_eta as number, negativePrompt: c.negative_prompt as string, guidanceScale: c.unconditional_guidance_scale as number } : {}),
          });
          const [, lh, lw] = lr.shape;
          t.is(res.height, Math.trunc(lh * (c.upscale as number)));
          t.is(res.width, Math.trunc(lw * (c.upscale as number)));
          t.false(lr.isDisposed, 'the caller keeps its input tensor');
          const spec = fx.manifest.outputs['output.wavelet']!;
          const exp = fx.raw(spec.key);
          t.true(res.width <= exp.shape[3]! && res.height <= exp.shape[2]!);
          const err = maxErrVsReference(res.image, exp.data as Float32Array, exp.shape);
          // Rounding to 8 bits moves a value by at most half a step.
          const allowed = spec.atol + spec.rtol + 0.5 / 255;
          t.log(`${name}: max |output − reference| ${err.toExponential(3)} (allowed ${allowed.toExponential(3)})`);
          t.true(err <= allowed, `max error ${err} > ${allowed}`);
        } finally {
          lr.dispose();
          model.dispose();
        }
      } finally {
        fx.close();
      }
    });
  }

  test.serial('RGB input: exact output size, deterministic with a seed, no tensor leak, progress over steps × tiles', async (t) => {
    const img = picture(16, 12, 3);
    await sr.upscale(img, fast); // warm-up: backend kernels and caches
    const before = tf.memory().numTensors;
    const events: { done: number; total: number }[] = [];
    const a = await sr.upscale(img, { ...fast, seed: 7, onProgress: (e) => e.stage === 'sample' && events.push({ done: e.done, total: e.total }) });
    t.is(tf.memory().numTensors, before, 'tensors leaked');
    t.deepEqual([a.width, a.height, a.image.width, a.image.height, a.image.channels], [64, 48, 64, 48, 3]);
    t.true(a.image.data instanceof Uint8Array);
    t.is(a.image.data.length, 64 * 48 * 3);
    t.is(a.seed, 7);
    // Canvas 96 × 96 (16×12 · 64/12, padded) → latent 12 × 12 → tiles of 8 with overlap 4 at 0 and 4 → 4 per step.
    t.is(events.length, 2 * 4);
    t.deepEqual(events[events.length - 1], { done: 8, total: 8 });
    t.is(a.evaluations, 8);
    const b = await sr.upscale(img, { ...fast, seed: 7 });
    t.deepEqual(Buffer.from(b.image.data), Buffer.from(a.image.data), 'same seed, same bytes');
    const c = await sr.upscale(img, { ...fast, seed: 8 });
    t.notDeepEqual(Buffer.from(c.image.data), Buffer.from(a.image.data), 'another seed, another image');
    t.is(tf.memory().numTensors, before, 'tensors leaked');
  });

  test.serial('RGBA input: alpha is upscaled separately and re-attached, the colour result is unchanged', async (t) => {
    const rgb = picture(16, 12, 3);
    const rgba = new Uint8Array(16 * 12 * 4);
    for (let p = 0; p < 16 * 12; p++) {
      rgba.set(rgb.data.subarray(p * 3, p * 3 + 3), p * 4);
      rgba[p * 4 + 3] = 200;
    }
    const before = tf.memory().numTensors;
    const plain = await sr.upscale(rgb, { ...fast, seed: 3 });
    const withAlpha = await sr.upscale({ data: rgba, width: 16, height: 12, channels: 4 }, { ...fast, seed: 3 });
    t.is(tf.memory().numTensors, before, 'tensors leaked');
    t.deepEqual([withAlpha.image.width, withAlpha.image.height, withAlpha.image.channels], [64, 48, 4]);
    const n = 64 * 48;
    let alphaOff = 0;
    let colourDiff = 0;
    for (let p = 0; p < n; p++) {
      alphaOff = Math.max(alphaOff, Math.abs(withAlpha.image.data[p * 4 + 3]! - 200));
      for (let c = 0; c < 3; c++) colourDiff = Math.max(colourDiff, Math.abs(withAlpha.image.data[p * 4 + c]! - plain.image.data[p * 3 + c]!));
    }
    t.true(alphaOff <= 1, `alpha moved by ${alphaOff}`);
    t.is(colourDiff, 0, 'alpha must not reach the networks');
  });

  test.serial('grayscale input and 16-bit output', async (t) => {
    const res = await sr.upscale(picture(12, 12, 1), { ...fast, bitDepth: 16 });
    t.true(res.grayscale);
    t.deepEqual([res.image.width, res.image.height, res.image.channels], [48, 48, 3]);
    t.true(res.image.data instanceof Uint16Array);
    t.true(Math.max(...res.image.data) > 255, 'uses the 16-bit range');
  });

  test.serial('DDIM with prompt and negative prompt: guided run differs from the unguided one', async (t) => {
    const img = picture(12, 12, 3);
    const guidedOpts: UpscaleOptions = { ...fast, sampler: 'ddim', prompt: 'a sharp photo', negativePrompt: 'blurry', guidanceScale: 5 };
    await sr.upscale(img, guidedOpts); // caches the two prompts' embeddings (kept by the model, by design)
    const before = tf.memory().numTensors;
    const plain = await sr.upscale(img, { ...fast, sampler: 'ddim' });
    const guided = await sr.upscale(img, guidedOpts);
    t.is(tf.memory().numTensors, before, 'tensors leaked');
    t.deepEqual([guided.width, guided.height], [48, 48]);
    t.notDeepEqual(Buffer.from(guided.image.data), Buffer.from(plain.image.data));
  });

  test.serial('abort stops the run with AbortError and releases every tensor', async (t) => {
    const ctrl = new AbortController();
    const before = tf.memory().numTensors;
    let seen = 0;
    await t.throwsAsync(
      sr.upscale(picture(16, 12, 3), { ...fast, onProgress: (e) => { if (e.stage === 'sample' && ++seen === 3) ctrl.abort(); }, signal: ctrl.signal }),
      { instanceOf: AbortError },
    );
    t.is(seen, 3);
    t.is(tf.memory().numTensors, before, 'tensors leaked');
  });

  test.serial('bad upscale options are clear errors naming the option', async (t) => {
    const img = picture(8, 8, 3);
    const bad: [UpscaleOptions, RegExp][] = [
      [{ scale: 0 }, /option scale must be > 0, got 0/],
      [{ scale: 9 }, /option scale must be ≤ 8, got 9/],
      [{ scale: Number.NaN }, /option scale/],
      [{ steps: 0 }, /option steps must be ≥ 1, got 0/],
      [{ steps: 1001 }, /option steps must be ≤ 1000, got 1001/],
      [{ steps: 2.5 }, /option steps/],
      [{ tileSize: 8, tileOverlap: 8 }, /option tileOverlap \(8\) must be smaller than option tileSize \(8\)/],
      [{ tileSize: 6 }, /option tileSize must be a multiple of 4/],
      [{ fidelity: 1.5 }, /option fidelity must be ≤ 1, got 1\.5/],
      [{ fidelity: -0.1 }, /option fidelity/],
      [{ sampler: 'plms' as never }, /option sampler must be one of ddpm, ddim, got "plms"/],
      [{ colorFix: 'hist' as never }, /option colorFix must be one of wavelet, adain, none/],
      [{ negativePrompt: 'blurry' }, /option negativePrompt needs option sampler ddim/],
      [{ eta: 0.5 }, /option eta needs option sampler ddim/],
      [{ seed: -1 }, /option seed/],
      [{ tileSize: 8, tileOverlap: -1 }, /option tileOverlap/],
      [{ stepz: 3 } as never, /unknown option stepz/],
    ];
    for (const [opts, message] of bad) await t.throwsAsync(sr.upscale(img, { ...fast, ...opts }), { message }, JSON.stringify(opts));
    await t.throwsAsync(sr.upscale('/nonexistent/picture.png', fast), { message: /\/nonexistent\/picture\.png/ });
    await t.throwsAsync(sr.upscale(tf.zeros([1, 8, 8, 4]) as tf.Tensor4D, fast), { message: /\[1, H, W, 3\]/ });
  });

  test.serial('a non-empty prompt needs the tokenizer; the empty prompt does not', async (t) => {
    const noVocab = await StableSR.load(base);
    try {
      const img = picture(8, 8, 3);
      const res = await noVocab.upscale(img, { ...fast, steps: 1 });
      t.is(res.width, 32);
      await t.throwsAsync(noVocab.upscale(img, { ...fast, prompt: 'a cat' }), { message: /prompt "a cat" needs the tokenizer vocabulary: pass the tokenizer option/ });
      // Without a vocabulary the empty prompt's ids are fixed; they give the same context as the tokenizer's.
      const a = await noVocab.promptContext('');
      const b = await sr.promptContext('');
      const d = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
      t.is(d, 0);
      tf.dispose([a, b]);
    } finally {
      noVocab.dispose();
    }
    t.throws(() => noVocab.promptContext(''), { message: /after dispose/ });
  });

  test.serial('load rejects a plain Stable Diffusion checkpoint', async (t) => {
    await t.throwsAsync(StableSR.load({ ...base, checkpoint: files.plainSd }), { message: /unet\.safetensors: is not a StableSR checkpoint \(no SPADE keys model\.diffusion_model\.\*\.spade\.\*/ });
  });

  test.serial('load rejects a CFW file that does not match the config, naming the key', async (t) => {
    const cfg = JSON.parse(JSON.stringify(modelConfig)) as Record<string, Record<string, Record<string, unknown>>>;
    cfg['cfw (AutoencoderKLResi)']!.ddconfig!.num_fuse_block = 2;
    const before = tf.memory().numTensors;
    await t.throwsAsync(StableSR.load({ ...base, config: cfg }), { message: /vqgan_cfw\.safetensors.*decoder\.fusion_layer_\d\.encode_enc_2\.1\./ });
    t.is(tf.memory().numTensors, before, 'a failed load releases what it loaded');
    await t.throwsAsync(StableSR.load({ ...base, cfw: files.checkpoint }), { message: /stablesr\.safetensors: is not a CFW autoencoder/ });
  });

  test.serial('load errors: no text tower, missing file, bad preset', async (t) => {
    await t.throwsAsync(StableSR.load({ checkpoint: files.checkpoint, cfw: files.cfw, config: modelConfig }), { message: /has no OpenCLIP text tower .*textEncoder/ });
    await t.throwsAsync(StableSR.load({ ...base, textEncoder: files.cfw }), { message: /vqgan_cfw\.safetensors: has no OpenCLIP text tower/ });
    await t.throwsAsync(StableSR.load({ ...base, checkpoint: '/nonexistent/stablesr.ckpt' }), { message: /\/nonexistent\/stablesr\.ckpt/ });
    await t.throwsAsync(StableSR.load({ ...base, preset: '1024' as never }), { message: /option preset must be one of 512, 768v/ });
  });
}
