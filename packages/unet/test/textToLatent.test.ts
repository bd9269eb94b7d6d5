import test from 'ava';
import { fixtureWeightFile, requireFixtures } from '../../../test/fixtureGate.js';
import * as tf from '@tensorflow/tfjs-core';
import { Fixture, type TensorToWrite, compareArrays, encodeSafetensors, nhwcToNchw, openSafetensors } from '@stablesr/core';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TextToLatent, type TextToLatentLoadOptions, loadTextToLatentConfigFile, parseTextToLatentConfig } from '../src/generate/index.js';
import { diffusersUNetPrefixes, originalToDiffusersUNetKey } from '../src/model/index.js';

const root = requireFixtures('TextToLatent tests');
const here = dirname(fileURLToPath(import.meta.url));
const CONFIG = join(here, 'data/tiny-txt2img.yaml');

if (root) {
  const FIXTURE = join(root, 'sampler.txt2img-ddim');
  // The fixture's U-Net, VAE (first_stage_model.*) and text tower files, as its manifest names them.
  const [UNET, SR, TEXT] = [0, 1, 2].map((i) => fixtureWeightFile(FIXTURE, i)) as [string, string, string];
  const VOCAB = join(root, 'tokenizer/bpe_simple_vocab_16e6.txt.gz');
  const tiny: TextToLatentLoadOptions = { checkpoint: UNET, vae: SR, textEncoder: TEXT, tokenizer: VOCAB, config: CONFIG };

  let model: TextToLatent;
  test.before(async () => {
    model = await TextToLatent.load(tiny);
  });
  test.after.always(() => model?.dispose());

  async function nchw(t: tf.Tensor4D): Promise<Float32Array> {
    const n = nhwcToNchw(t);
    const d = (await n.data()) as Float32Array;
    n.dispose();
    return d;
  }

  test('the YAML test config is the fixture manifest config in the official layout', (t) => {
    const fx = new Fixture(FIXTURE);
    try {
      const fromYaml = loadTextToLatentConfigFile(CONFIG);
      const fromManifest = parseTextToLatentConfig(fx.config, `${FIXTURE}/manifest.json`);
      const { image_size: _a, ...y } = fromYaml;
      const { image_size: _b, ...m } = fromManifest;
      t.deepEqual(y, m);
      t.is(fromYaml.parameterization as unknown, fx.config.parameterization);
      t.is(model.sizeMultiple, 8 * 4);
    } finally {
      fx.close();
    }
  });

  // With the weights on the backend, and on the host (U-Net uploaded per layer, text tower and VAE per call).
  for (const weights of ['backend', 'host'] as const) test.serial(`reproduces sampler.txt2img-ddim end to end: prompt → text tower → U-Net → DDIM → VAE (weights on the ${weights})`, async (t) => {
    const fx = new Fixture(FIXTURE);
    const c = fx.config as Record<string, number | string>;
    const noise = fx.noise();
    const steps: Record<string, Float32Array> = {};
    const m = weights === 'backend' ? model : await TextToLatent.load({ ...tiny, weights });
    try {
      const r = await m.generate({
        prompt: fx.value<string[]>('prompts'),
        steps: c.steps as number,
        guidanceScale: c.scale as number,
        eta: c.ddim_eta as number,
        width: c.W as number,
        height: c.H as number,
        batchSize: c.n_samples as number,
        sampler: 'ddim',
        noise,
        decode: true,
        onStep: async (e) => {
          steps[`x.step${e.k}`] = await nchw(e.x);
          steps[`pred_x0.step${e.k}`] = await nchw(e.predX0);
        },
      });
      const got: Record<string, Float32Array> = { ...steps, samples: await nchw(r.latents), decoded: await nchw(r.decoded!), output: await nchw(r.image!) };
      t.deepEqual(r.latents.shape, [c.n_samples, (c.H as number) / 8, (c.W as number) / 8, 4]);
      tf.dispose([r.latents, r.decoded!, r.image!]);
      t.is(noise.drawn, fx.manifest.noise!.length, 'every recorded draw used, in order');
      let compared = 0;
      for (const [name, spec] of Object.entries(fx.manifest.outputs)) {
        if (name.startsWith('model_out.')) continue; // the raw guidance batch is not part of generate's result
        const actual = got[name];
        if (!actual) {
          t.fail(`no value for ${name}`);
          continue;
        }
        const expected = fx.raw(spec.key).data;
        const cmp = compareArrays(actual, expected, spec.atol, spec.rtol);
        t.log(`${name}: max |err| ${cmp.maxAbsErr.toExponential(2)} (atol ${spec.atol})`);
        t.true(cmp.pass, `${name}: max |err| ${cmp.maxAbsErr} > atol ${spec.atol}${cmp.problem ? ` (${cmp.problem})` : ''}`);
        compared++;
      }
      t.is(compared, 2 * (c.steps as number) + 3);
    } finally {
      if (m !== model) m.dispose();
      fx.close();
    }
  });

  test.serial('seeded generation is deterministic, differs across seeds, and leaks no tensor', async (t) => {
    const opts = { prompt: 'a red fox', negativePrompt: 'blurry', steps: 2, guidanceScale: 4, width: 32, height: 64 } as const;
    // Warm-up: the text conditioner caches the empty-prompt embedding once.
    tf.dispose(Object.values(await model.generate({ ...opts, prompt: '', seed: 1 })));
    const before = tf.memory().numTensors;
    const a = await model.generate({ ...opts, seed: 7 });
    const b = await model.generate({ ...opts, seed: 7 });
    const d = await model.generate({ ...opts, seed: 8, decode: true });
    t.deepEqual(a.latents.shape, [1, 8, 4, 4]);
    t.deepEqual(Array.from(await a.latents.data()), Array.from(await b.latents.data()));
    t.notDeepEqual(Array.from(await a.latents.data()), Array.from(await d.latents.data()));
    t.is(a.decoded, undefined);
    t.deepEqual(d.decoded!.shape, [1, 64, 32, 3]);
    const img = await d.image!.data();
    t.true(img.every((v) => v >= 0 && v <= 1));
    for (const r of [a, b, d]) tf.dispose(Object.values(r));
    t.is(tf.memory().numTensors, before);
  });

  test.serial('load + dispose releases every tensor', async (t) => {
    const before = tf.memory().numTensors;
    // On tfjs the weights are backend tensors (onnxruntime keeps them on the host, outside tfjs's count).
    const m = await TextToLatent.load({ ...tiny, engine: 'tfjs' });
    t.true(tf.memory().numTensors > before);
    t.true(m.canDecode);
    m.dispose();
    t.is(tf.memory().numTensors, before);
    await t.throwsAsync(() => m.generate({ seed: 1 }), { message: /used after dispose/ });
  });

  test('bad sizes, unknown sampler: clear errors naming the option, before any work', async (t) => {
    await t.throwsAsync(() => model.generate({ width: 72, height: 64, seed: 1 }), { message: /^width 72 must be a multiple of 32 \(VAE downsampling 8 × U-Net 2\^\(levels−1\) = 4\)/ });
    await t.throwsAsync(() => model.generate({ width: 64, height: 40, seed: 1 }), { message: /^height 40 must be a multiple of 32/ });
    await t.throwsAsync(() => model.generate({ width: 0, height: 64, seed: 1 }), { message: /^width must be a positive integer, got 0/ });
    await t.throwsAsync(() => model.generate({ sampler: 'plms', seed: 1 }), { message: /unknown sampler "plms" \(available: ddpm, ddim, dpmpp-2m, euler-a\)/ });
  });

  test.serial('a text tower whose width differs from the U-Net context_dim is rejected at load', async (t) => {
    const cfg = loadTextToLatentConfigFile(CONFIG);
    cfg.unet_config = { ...cfg.unet_config, context_dim: 32 };
    const before = tf.memory().numTensors;
    await t.throwsAsync(() => TextToLatent.load({ ...tiny, config: cfg }), { message: /text encoder's width 16 does not match unet_config\.context_dim 32/ });
    t.is(tf.memory().numTensors, before);
  });

  test('missing pieces are clear errors', async (t) => {
    // No VAE in the U-Net-only file: loading works, decoding is refused up front.
    const noVae = await TextToLatent.load({ ...tiny, vae: undefined });
    try {
      t.false(noVae.canDecode);
      await t.throwsAsync(() => noVae.generate({ decode: true, seed: 1 }), { message: /decode needs the first-stage VAE.*first_stage_model/ });
    } finally {
      noVae.dispose();
    }
    await t.throwsAsync(() => TextToLatent.load({ ...tiny, textEncoder: undefined }), { message: /unet\.safetensors: the checkpoint has no cond_stage_model\.\* tensors \(text encoder\); give the text encoder weights separately/ });
    await t.throwsAsync(() => TextToLatent.load({ ...tiny, tokenizer: undefined }), { message: /a tokenizer is required/ });
    await t.throwsAsync(() => TextToLatent.load({ ...tiny, checkpoint: TEXT }), { message: /openclip_text\.safetensors: no model\.diffusion_model\.\* tensors/ });
    await t.throwsAsync(() => TextToLatent.load({ ...tiny, preset: 'nope' as '512' }), { message: /unknown text-to-latent preset "nope" \(known: 512, 768v\)/ });
  });

  test.serial('a diffusers pipeline folder loads through the U-Net key table and generates the same latents', async (t) => {
    // The tiny U-Net written as a diffusers pipeline (unet/ + scheduler/), from the original keys.
    const dir = mkdtempSync(join(tmpdir(), 'stablesr-diffusers-'));
    try {
      const rules = diffusersUNetPrefixes(loadTextToLatentConfigFile(CONFIG).unet_config);
      const src = openSafetensors(UNET);
      const tensors = new Map<string, TensorToWrite>();
      for (const [k, e] of src.entries()) {
        const d = originalToDiffusersUNetKey(k.slice('model.diffusion_model.'.length), rules);
        if (!d) throw new Error(`no diffusers name for ${k}`);
        tensors.set(d, { shape: e.shape, data: e.read() });
      }
      src.close();
      mkdirSync(join(dir, 'unet'));
      mkdirSync(join(dir, 'scheduler'));
      writeFileSync(join(dir, 'unet/diffusion_pytorch_model.safetensors'), encodeSafetensors(tensors));
      writeFileSync(join(dir, 'model_index.json'), JSON.stringify({ _class_name: 'StableDiffusionPipeline', unet: ['diffusers', 'UNet2DConditionModel'], scheduler: ['diffusers', 'DDIMScheduler'] }));
      writeFileSync(join(dir, 'scheduler/scheduler_config.json'), JSON.stringify({ prediction_type: 'v_prediction' }));

      const opts = { prompt: 'a cat', steps: 2, guidanceScale: 3, width: 32, height: 32, seed: 5 };
      const diff = await TextToLatent.load({ ...tiny, checkpoint: dir });
      try {
        const a = await diff.generate(opts);
        const b = await model.generate(opts);
        t.deepEqual(Array.from(await a.latents.data()), Array.from(await b.latents.data()));
        tf.dispose([a.latents, b.latents]);
      } finally {
        diff.dispose();
      }
      writeFileSync(join(dir, 'scheduler/scheduler_config.json'), JSON.stringify({ prediction_type: 'epsilon' }));
      await t.throwsAsync(() => TextToLatent.load({ ...tiny, checkpoint: dir }), { message: /scheduler_config\.json says the model predicts eps but the configuration says v/ });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('presets hold the released SD 2.1 configurations', (t) => {
    const p512 = parseTextToLatentConfig({}, 'empty');
    const p768 = parseTextToLatentConfig({ model: { params: { parameterization: 'v', image_size: 96 } } });
    t.is(p512.parameterization, 'eps');
    t.is(p512.image_size * 8, 512);
    t.is(p768.parameterization, 'v');
    t.like(p512.unet_config, { model_channels: 320, channel_mult: [1, 2, 4, 4], num_res_blocks: 2, attention_resolutions: [4, 2, 1], num_head_channels: 64, use_linear_in_transformer: true, context_dim: 1024, transformer_depth: 1, legacy: false });
    t.like(p512.first_stage_config.ddconfig, { ch: 128, ch_mult: [1, 2, 4, 4], num_res_blocks: 2, z_channels: 4 });
    t.is(p512.first_stage_config.embed_dim, 4);
    t.deepEqual(p512.cond_stage_config, { type: 'open_clip', text_cfg: { context_length: 77, vocab_size: 49408, width: 1024, heads: 16, layers: 24 }, layer: 'penultimate' });
    t.like(p512, { linear_start: 0.00085, linear_end: 0.012, timesteps: 1000, scale_factor: 0.18215 });
    // A YAML cond_stage_config without `layer` follows the constructor default ("last").
    const last = parseTextToLatentConfig({ model: { params: { cond_stage_config: { target: 'ldm.modules.encoders.modules.FrozenOpenCLIPEmbedder', params: { freeze: true } } } } });
    t.like(last.cond_stage_config, { type: 'open_clip', layer: 'last' });
    t.throws(() => parseTextToLatentConfig({ model: { params: { unet_config: { target: 'x.UNetModelDualcondV2', params: {} } } } }), { message: /class UNetModelDualcondV2 is not a plain text-to-image UNetModel \(StableSR models are loaded with StableSR\.load\)/ });
    t.throws(() => parseTextToLatentConfig({ parameterization: 'x0' }), { message: /parameterization must be "eps" or "v", got "x0"/ });
  });
}
