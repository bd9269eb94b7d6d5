import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { InjectedNoise, WeightFileError, openWeights } from '@stablesr/core';
import {
  AUTOENCODER_KL_DEFAULTS,
  type AutoencoderKLConfig,
  cfwDecode,
  cfwEncode,
  decode,
  decodeFromLatent,
  decodeFromLatentTiled,
  encodeToLatentTiled,
  decodeTiled,
  disposeAutoencoderKL,
  disposeCfwEncodeResult,
  disposeEncodeResult,
  encode,
  encodeTiled,
  encodeToLatent,
  loadAutoencoderKL,
  loadCfwAutoencoder,
  parseAutoencoderKLConfig,
  cfwFeatureLevels,
  planTileGrid,
  HostFeature,
  tileCore,
} from '../src/index.js';
import { fixtureManifest, fixtureTests, fixtureWeightFile, manifestSection, requireFixtureOfKind, requireFixtures } from '../../../test/fixtureGate.js';
import { maxDiff, randomTensor } from './helpers.js';

const root = requireFixtures('AutoencoderKL / CFW on the tiny fixture model');
const encDir = root && requireFixtureOfKind(root, 'vae.encode');
const cfwDir = root && requireFixtureOfKind(root, 'cfw.decode');
const { test: fxTest, serial: fxSerial } = fixtureTests(encDir && cfwDir);
// The fixture model's files and CFW config, as the manifests name them.
const SR = encDir ? fixtureWeightFile(encDir) : '';
const CFW = cfwDir ? fixtureWeightFile(cfwDir) : '';
const CONFIG: AutoencoderKLConfig = cfwDir ? parseAutoencoderKLConfig(manifestSection(fixtureManifest(cfwDir).config, 'cfw'), 'cfw.decode manifest') : AUTOENCODER_KL_DEFAULTS;

function loadSr() {
  const w = openWeights(SR);
  const vae = loadAutoencoderKL(CONFIG, w.scope('first_stage_model.'));
  w.close();
  return vae;
}

fxSerial('image sides that are not multiples of f are rejected naming the size and factor', async (t) => {
  const vae = loadSr();
  const x = tf.zeros([1, 60, 64, 3]) as tf.Tensor4D;
  t.throws(() => encode(vae, x), { message: /image: 64×60 \(W×H\) is not a multiple of the downsampling factor 8/ });
  await t.throwsAsync(encodeTiled(vae, x), { message: /64×60 .* downsampling factor 8/ });
  const c4 = tf.zeros([1, 64, 64, 4]) as tf.Tensor4D;
  t.throws(() => encode(vae, c4), { message: /expected 3 channels \(NHWC\), got 4/ });
  tf.dispose([x, c4]);
  disposeAutoencoderKL(vae);
});

fxSerial('a latent with the wrong channel count names the expected count', async (t) => {
  const vae = loadSr();
  const z = tf.zeros([1, 8, 8, 3]) as tf.Tensor4D;
  t.throws(() => decode(vae, z), { message: /latent: expected 4 channels \(embed_dim, NHWC\), got 3/ });
  await t.throwsAsync(decodeTiled(vae, z), { message: /expected 4 channels/ });
  const z3 = tf.zeros([8, 8, 4]);
  t.throws(() => decode(vae, z3 as never), { message: /expected an NHWC tensor/ });
  tf.dispose([z, z3]);
  disposeAutoencoderKL(vae);
});

fxSerial('a config that does not fit the checkpoint is a WeightFileError naming the key', (t) => {
  const w = openWeights(SR);
  const wide = { ...CONFIG, ddconfig: { ...CONFIG.ddconfig, ch: 64 } };
  const e = t.throws(() => loadAutoencoderKL(wide, w.scope('first_stage_model.')), { instanceOf: WeightFileError });
  t.regex(e!.message, /first_stage_model\.encoder\.conv_in\.weight/);
  const deeper = { ...CONFIG, ddconfig: { ...CONFIG.ddconfig, ch_mult: [1, 1, 1, 1, 1] } };
  t.throws(() => loadAutoencoderKL(deeper, w.scope('first_stage_model.')), { instanceOf: WeightFileError, message: /first_stage_model\.encoder\.down\.3\.downsample\.conv\.weight\]: missing key/ });
  w.close();
  // The plain autoencoder does not accept the CFW file's fusion layers (strict loading).
  const c = openWeights(CFW);
  t.throws(() => loadAutoencoderKL(CONFIG, c), { instanceOf: WeightFileError, message: /unexpected key\(s\) for AutoencoderKL: decoder\.fusion_layer_/ });
  const moreFuse = { ...CONFIG, ddconfig: { ...CONFIG.ddconfig, num_fuse_block: 2 } };
  t.throws(() => loadCfwAutoencoder(moreFuse, c), { instanceOf: WeightFileError, message: /decoder\.fusion_layer_\d\.encode_enc_2\.1\.rdb1\.conv1\.weight\]: missing key/ });
  c.close();
});

test('config parsing accepts the reference YAML form and names bad fields', (t) => {
  const dd = AUTOENCODER_KL_DEFAULTS.ddconfig;
  const c = parseAutoencoderKLConfig({ target: 'ldm.models.autoencoder.AutoencoderKL', params: { embed_dim: 4, ddconfig: { ...dd }, lossconfig: { target: 'torch.nn.Identity' } } });
  t.deepEqual(c.ddconfig.ch_mult, dd.ch_mult);
  t.is(c.embed_dim, 4);
  t.throws(() => parseAutoencoderKLConfig({ embed_dim: 4, ddconfig: { ...dd, ch_mult: [] } }), { message: /"ch_mult" must be a non-empty list/ });
  t.throws(() => parseAutoencoderKLConfig({ embed_dim: 4, ddconfig: { ...dd, attn_type: 'linear' } }), { message: /attn_type "linear" is not supported/ });
  t.throws(() => parseAutoencoderKLConfig({ ddconfig: dd }), { message: /"embed_dim" must be an integer/ });
});

test('CFW feature levels follow the reference (levels 1 and 2 for 3–4 levels, 1…L−2 beyond)', (t) => {
  const dd = (n: number) => ({ ...AUTOENCODER_KL_DEFAULTS.ddconfig, ch_mult: new Array<number>(n).fill(1) });
  t.deepEqual(cfwFeatureLevels(dd(4)), [1, 2]);
  t.deepEqual(cfwFeatureLevels(dd(3)), [1, 2]);
  t.deepEqual(cfwFeatureLevels(dd(2)), [1]);
  t.deepEqual(cfwFeatureLevels(dd(6)), [1, 2, 3, 4]);
});

fxSerial('latent scaling: encodeToLatent = sf·sample, decodeFromLatent = decode(latent / sf)', async (t) => {
  const vae = loadSr();
  const x = tf.tidy(() => tf.tanh(randomTensor([1, 32, 48, 3], 1)));
  const eps = randomTensor([1, 4, 6, 4], 2);
  const r = encode(vae, x, { noise: new InjectedNoise([eps], ['posterior']) });
  const expected = tf.tidy(() => tf.mul(tf.add(r.mean, tf.mul(r.std, eps)), 0.18215));
  t.is(maxDiff(r.latent, expected).maxAbs, 0);
  const lat = encodeToLatent(vae, x, { noise: new InjectedNoise([eps], ['posterior']) });
  t.is(maxDiff(lat, r.latent).maxAbs, 0);
  const mode = encodeToLatent(vae, x);
  t.true(maxDiff(mode, tf.mul(r.mean, 0.18215)).maxAbs < 1e-7);
  const img = decodeFromLatent(vae, r.latent);
  const ref = decode(vae, tf.div(r.latent, 0.18215) as tf.Tensor4D);
  t.is(maxDiff(img, ref).maxAbs, 0);
  t.deepEqual(img.shape, [1, 32, 48, 3]);
  const imgTiled = await decodeFromLatentTiled(vae, r.latent, { tileSize: 2 });
  t.true(maxDiff(imgTiled, img).maxAbs < 1e-4);
  const latTiled = await encodeToLatentTiled(vae, x, { tileSize: 16, noise: new InjectedNoise([eps], ['posterior']) });
  t.true(maxDiff(latTiled, lat).maxAbs < 1e-5);
  tf.dispose([imgTiled, latTiled]);
  tf.dispose([x, eps, expected, lat, mode, img, ref]);
  disposeEncodeResult(r);
  disposeAutoencoderKL(vae);
});

fxSerial('no tensor leaks across repeated encode/decode/CFW calls', async (t) => {
  const vae = loadSr();
  const w = openWeights(CFW);
  const cfw = loadCfwAutoencoder(CONFIG, w);
  w.close();
  const x = tf.tidy(() => tf.tanh(randomTensor([1, 32, 32, 3], 3)));
  const z = randomTensor([1, 4, 4, 4], 4);
  const round = async (): Promise<void> => {
    disposeEncodeResult(encode(vae, x));
    decode(vae, z).dispose();
    disposeEncodeResult(await encodeTiled(vae, x, { tileSize: 16 }));
    (await decodeTiled(vae, z, { tileSize: 2 })).dispose();
    const e = cfwEncode(cfw, x);
    cfwDecode(cfw, z, e.encFeatures, 0.5).dispose();
    disposeCfwEncodeResult(e);
  };
  await round();
  const before = tf.memory().numTensors;
  await round();
  await round();
  t.is(tf.memory().numTensors, before);
  tf.dispose([x, z]);
  const weights = tf.memory().numTensors;
  disposeAutoencoderKL(vae);
  disposeAutoencoderKL(cfw);
  t.true(tf.memory().numTensors < weights - 100, 'dispose frees the weights');
});

fxSerial('cfwDecode checks the encoder features it is given', (t) => {
  const w = openWeights(CFW);
  const cfw = loadCfwAutoencoder(CONFIG, w);
  w.close();
  const z = tf.zeros([1, 4, 4, 4]) as tf.Tensor4D;
  const f0 = tf.zeros([1, 16, 16, 32]) as tf.Tensor4D;
  const bad = tf.zeros([1, 8, 8, 32]) as tf.Tensor4D;
  t.throws(() => cfwDecode(cfw, z, [f0], 0.5), { message: /1 encoder feature map\(s\) given, fusion level 2 needs enc_fea\[1\]/ });
  t.throws(() => cfwDecode(cfw, z, [f0, f0], 0.5), { message: /enc_fea\[1\] \(encoder level 2\) has shape \[1,16,16,32\], expected NHWC \[1,8,8,32\]/ });
  t.throws(() => cfwDecode(cfw, z, [f0, bad], Number.NaN), { message: /fidelity weight w must be a finite number/ });
  tf.dispose([z, f0, bad]);
  disposeAutoencoderKL(cfw);
});

test('tile grids partition every level; host features round-trip through windows', (t) => {
  const g = planTileGrid(10, 7, 4);
  t.deepEqual(g.rows, [0, 3, 7, 10]);
  t.deepEqual(g.cols, [0, 4, 7]);
  t.deepEqual(tileCore(g, 5, 2), { y0: 28, y1: 40, x0: 16, x1: 28 });
  t.throws(() => planTileGrid(10, 7, 0), { message: /tileSize must be a positive integer/ });
  const x = tf.tidy(() => tf.reshape(tf.range(0, 2 * 20 * 14 * 3), [2, 20, 14, 3]) as tf.Tensor4D);
  const h = HostFeature.fromTensor(g, 1, x);
  const win = h.windowTensor({ y0: 3, y1: 17, x0: 5, x1: 11 });
  const ref = tf.slice(x, [0, 3, 5, 0], [2, 14, 6, 3]);
  t.is(maxDiff(win, ref).maxAbs, 0);
  const back = h.toTensor();
  t.is(maxDiff(back, x).maxAbs, 0);
  t.throws(() => h.readWindow({ y0: 0, y1: 21, x0: 0, x1: 1 }), { message: /outside the 20×14 map/ });
  tf.dispose([x, win, ref, back]);
});

fxSerial('a load that fails half-way frees what it had read', (t) => {
  const w = openWeights(SR);
  const before = tf.memory().numTensors;
  const deeper = { ...CONFIG, ddconfig: { ...CONFIG.ddconfig, num_res_blocks: 2 } };
  t.throws(() => loadAutoencoderKL(deeper, w.scope('first_stage_model.')), { instanceOf: WeightFileError });
  t.is(tf.memory().numTensors, before);
  w.close();
});
