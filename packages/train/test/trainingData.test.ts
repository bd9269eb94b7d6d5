// The trainer's data and bookkeeping, each against an independent derivation: splits, patches (crops, the eight
// symmetries, the LQ), the learning-rate schedule, PyTorch's default initialisation bounds, checkpoints.
import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { Xoshiro128, matlabResize } from '@stablesr/core';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import {
  ADAM_INITIAL_STATE,
  type TrainingImage,
  type TrainingRecord,
  checkSameModel,
  initParameters,
  learningRate,
  loadTrainingCheckpoint,
  readImageFolder,
  samplePatchBatch,
  saveTrainingCheckpoint,
  splitTrainingImages,
} from '@stablesr/train';

const dir = mkdtempSync(join(tmpdir(), 'stablesr-train-data-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

test('the validation split depends only on names and seed, and never on their order', (t) => {
  const names = Array.from({ length: 23 }, (_, i) => `img${String(i).padStart(2, '0')}.png`);
  const a = splitTrainingImages(names, 5);
  const b = splitTrainingImages([...names].reverse(), 5);
  t.deepEqual(a, b);
  t.is(a.validation.length, 2); // a tenth of 23, rounded
  t.is(a.train.length + a.validation.length, 23);
  t.is(new Set([...a.train, ...a.validation]).size, 23);
  t.notDeepEqual(splitTrainingImages(names, 6).validation, a.validation);
  t.deepEqual(splitTrainingImages(['only.png'], 0), { train: ['only.png'], validation: [] });
  t.throws(() => splitTrainingImages(names, 0, 23), { message: /--val-count must be an integer in \[0, 22\]/ });
});

test('patches are crops of the source under one of the eight square symmetries, and the LQ is their MATLAB-bicubic 8-bit shrink', (t) => {
  const W = 20, H = 16;
  const data = Uint8Array.from({ length: W * H * 3 }, (_, i) => (i * 37 + (i >> 5)) % 256);
  const img: TrainingImage = { name: 'a.png', width: W, height: H, data };
  const P = 8;
  const b = samplePatchBatch([img], new Xoshiro128(3), { batch: 6, patch: P, scale: 2 });
  t.is(b.hq.length, 6 * P * P * 3);
  t.is(b.lq.length, 6 * 4 * 4 * 3);
  const pixel = (y: number, x: number, c: number) => Math.fround(data[(y * W + x) * 3 + c]! / 255);
  for (let k = 0; k < 6; k++) {
    const patch = b.hq.subarray(k * P * P * 3, (k + 1) * P * P * 3);
    // Some crop position and symmetry must reproduce the patch exactly.
    let found = false;
    for (let top = 0; top <= H - P && !found; top++)
      for (let left = 0; left <= W - P && !found; left++)
        for (let sym = 0; sym < 8 && !found; sym++) {
          let ok = true;
          for (let y = 0; y < P && ok; y++)
            for (let x = 0; x < P && ok; x++) {
              let sy = sym & 4 ? x : y, sx = sym & 4 ? y : x;
              if (sym & 2) sy = P - 1 - sy;
              if (sym & 1) sx = P - 1 - sx;
              for (let c = 0; c < 3; c++) if (patch[(y * P + x) * 3 + c] !== pixel(top + sy, left + sx, c)) ok = false;
            }
          found = ok;
        }
    t.true(found, `patch ${k} is a transformed crop`);
    const lq = matlabResize(Float32Array.from(patch), P, P, 3, 4, 4).map((v) => Math.round(Math.min(1, Math.max(0, v)) * 255) / 255);
    t.deepEqual(Array.from(b.lq.subarray(k * 48, (k + 1) * 48)), Array.from(lq));
  }
  const again = samplePatchBatch([img], new Xoshiro128(3), { batch: 6, patch: P, scale: 2 });
  t.deepEqual(Array.from(again.hq), Array.from(b.hq), 'deterministic for the stream');
  t.throws(() => samplePatchBatch([img], new Xoshiro128(3), { batch: 1, patch: 9, scale: 2 }), { message: /--patch 9 must be a multiple of --scale 2/ });
  t.throws(() => samplePatchBatch([img], new Xoshiro128(3), { batch: 1, patch: 18, scale: 2 }), { message: /a\.png: 20×16 is smaller than the 18×18 training patch/ });
});

test('learning-rate schedules: warm-up, cosine from lr to minLr, constant', (t) => {
  const s = { name: 'cosine' as const, lr: 1e-3, minLr: 1e-5, warmup: 10, totalSteps: 110 };
  t.is(learningRate(s, 5), 5e-4);
  t.is(learningRate(s, 10), 1e-3);
  t.true(Math.abs(learningRate(s, 60) - (1e-5 + 0.5 * (1e-3 - 1e-5))) < 1e-15); // half way: cos(π/2) = 0
  t.true(Math.abs(learningRate(s, 110) - 1e-5) < 1e-15);
  t.is(learningRate({ name: 'constant', lr: 2e-4, totalSteps: 5 }, 4), 2e-4);
});

test('initialisation follows PyTorch defaults: U(±1/√fan_in) for weights and their biases, ones for norm gains', (t) => {
  const shapes = new Map<string, number[]>([['conv.weight', [8, 3, 3, 3]], ['conv.bias', [8]], ['norm.g', [1, 8, 1, 1]], ['lin.weight', [16, 64]]]);
  const p = initParameters(shapes, new Xoshiro128(1));
  const bound = 1 / Math.sqrt(27);
  const w = p.get('conv.weight')!.dataSync();
  t.true(w.every((v) => Math.abs(v) <= bound));
  t.true(Math.max(...w) > 0.8 * bound, 'spans the range');
  t.true(p.get('conv.bias')!.dataSync().every((v) => Math.abs(v) <= bound));
  t.true(p.get('norm.g')!.dataSync().every((v) => v === 1));
  t.true(p.get('lin.weight')!.dataSync().every((v) => Math.abs(v) <= 1 / 8));
  tf.dispose([...p.values()]);
});

test('the image folder: sorted images, other files ignored, clear errors for empty, unreadable and too small', async (t) => {
  const data = join(dir, 'photos');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(data);
  await t.throwsAsync(readImageFolder(data), { message: /--data .*photos: no images/ });
  await t.throwsAsync(readImageFolder(join(dir, 'nope')), { message: /--data .*nope: no such folder/ });
  await sharp({ create: { width: 40, height: 30, channels: 4, background: { r: 10, g: 20, b: 30, alpha: 0.5 } } }).png().toFile(join(data, 'b.png'));
  await sharp({ create: { width: 50, height: 32, channels: 3, background: { r: 200, g: 100, b: 0 } } }).jpeg().toFile(join(data, 'a.jpg'));
  writeFileSync(join(data, 'notes.txt'), 'not an image');
  const imgs = await readImageFolder(data, 16);
  t.deepEqual(imgs.map((i) => [i.name, i.width, i.height, i.data.length]), [['a.jpg', 50, 32, 50 * 32 * 3], ['b.png', 40, 30, 40 * 30 * 3]]);
  await t.throwsAsync(readImageFolder(data, 31), { message: /b\.png: 40×30 is smaller than the 31×31 training patch/ });
  writeFileSync(join(data, 'c.png'), readFileSync(join(data, 'b.png')).subarray(0, 60));
  await t.throwsAsync(readImageFolder(data), { message: /c\.png: cannot decode image/ });
});

test('checkpoints round-trip exactly, refuse another model, and detect damage', async (t) => {
  const path = join(dir, 'ckpt.safetensors');
  const params = new Map([['w', tf.tensor([1.5, -2, 3.25])]]);
  const adam = { step: 7, expAvg: new Map([['w', tf.tensor([0.1, 0.2, 0.3])]]), expAvgSq: new Map([['w', tf.tensor([1e-3, 2e-3, 3e-3])]]) };
  const record: TrainingRecord = { format: 1, spec: { model: 'irsde', network: { nf: 8 } }, options: {}, step: 7, rng: new Xoshiro128(9).state(), history: { loss: [0.5, 0.25], valSteps: [2], valPsnr: [20.5] }, seconds: 3, split: { train: ['a'], validation: [] } };
  await saveTrainingCheckpoint(path, record, { params, adam, ema: new Map() });
  const back = loadTrainingCheckpoint(path)!;
  t.deepEqual(back.record, record);
  t.deepEqual(Array.from(back.tensors.params.get('w')!.dataSync()), [1.5, -2, 3.25]);
  t.deepEqual(Array.from(back.tensors.adam.expAvgSq.get('w')!.dataSync()), Array.from(Float32Array.of(1e-3, 2e-3, 3e-3)));
  t.is(back.tensors.adam.step, 7);
  t.is(back.tensors.ema.size, 0);
  t.throws(() => checkSameModel(path, back.record.spec, { model: 'irsde', network: { nf: 16 } }), { message: /holds a checkpoint of another model \(network\.nf 8 there, 16 asked\)/ });
  t.notThrows(() => checkSameModel(path, back.record.spec, { model: 'irsde', network: { nf: 8 } }));
  const bytes = readFileSync(path);
  bytes[bytes.length - 3]! ^= 0x40;
  writeFileSync(path, bytes);
  t.throws(() => loadTrainingCheckpoint(path), { message: /cannot resume from .*ckpt\.safetensors: .*damaged/ });
  writeFileSync(path, bytes.subarray(0, bytes.length - 8));
  t.throws(() => loadTrainingCheckpoint(path), { message: /cannot resume from .*ckpt\.safetensors/ });
  t.is(loadTrainingCheckpoint(join(dir, 'none.safetensors')), undefined);
  tf.dispose([...params.values(), ...adam.expAvg.values(), ...adam.expAvgSq.values(), ...back.tensors.params.values(), ...back.tensors.adam.expAvg.values(), ...back.tensors.adam.expAvgSq.values()]);
  t.is(ADAM_INITIAL_STATE.step, 0);
});
