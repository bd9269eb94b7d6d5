import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { encodeImage, outputFormatFor, quantize, readImage, resizeAlpha, writeImage, type RawImage } from '@stablesr/core';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';

const dir = mkdtempSync(join(tmpdir(), 'stablesr-image-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

/** Deterministic 8-bit samples covering 0…255. */
function ramp8(n: number, mul = 37): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * mul) % 256);
}

async function values(t: tf.Tensor): Promise<number[]> {
  return Array.from(await t.data());
}

function near(t: { true: (v: boolean, m?: string) => void }, got: number[], want: number[], tol: number): void {
  t.true(got.length === want.length, `length ${got.length} vs ${want.length}`);
  const worst = got.reduce((m, g, i) => Math.max(m, Math.abs(g - want[i]!)), 0);
  t.true(worst <= tol, `max error ${worst} > ${tol}`);
}

test('8-bit RGB PNG decodes to [-1, 1] as x/255·2−1, from a file and from a Buffer', async (t) => {
  const w = 5, h = 3;
  const px = ramp8(w * h * 3);
  const png = await sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
  const file = join(dir, 'rgb8.png');
  writeFileSync(file, png);
  for (const input of [file, png]) {
    const img = await readImage(input);
    t.deepEqual([img.width, img.height, img.bitDepth, img.grayscale, img.format, img.alpha], [w, h, 8, false, 'png', undefined]);
    t.deepEqual(img.rgb.shape, [1, h, w, 3]);
    near(t, await values(img.rgb), Array.from(px, (v) => (v / 255) * 2 - 1), 1e-6);
    img.rgb.dispose();
  }
});

test('alpha is split off in [0, 1] and RGB keeps three channels', async (t) => {
  const w = 4, h = 2;
  const px = ramp8(w * h * 4, 53);
  const png = await sharp(px, { raw: { width: w, height: h, channels: 4 } }).png().toBuffer();
  const img = await readImage(png);
  t.truthy(img.alpha);
  t.deepEqual(img.alpha!.shape, [1, h, w, 1]);
  near(t, await values(img.alpha!), Array.from({ length: w * h }, (_, p) => px[p * 4 + 3]! / 255), 1e-6);
  near(t, await values(img.rgb), Array.from({ length: w * h * 3 }, (_, i) => (px[Math.floor(i / 3) * 4 + (i % 3)]! / 255) * 2 - 1), 1e-6);
  tf.dispose([img.rgb, img.alpha!]);
});

test('grayscale is expanded to three equal channels and reported', async (t) => {
  const w = 3, h = 3;
  const g = ramp8(w * h, 29);
  const png = await sharp(g, { raw: { width: w, height: h, channels: 1 } }).toColourspace('b-w').png().toBuffer();
  t.is((await sharp(png).metadata()).channels, 1, 'test image really is single-channel');
  const img = await readImage(png);
  t.true(img.grayscale);
  near(t, await values(img.rgb), Array.from({ length: w * h * 3 }, (_, i) => (g[Math.floor(i / 3)]! / 255) * 2 - 1), 1e-6);
  img.rgb.dispose();
});

test('16-bit PNG keeps full precision (x/65535), RGB and gray', async (t) => {
  const w = 3, h = 2;
  const rgb16 = Uint16Array.from({ length: w * h * 3 }, (_, i) => (i * 3851 + 7) % 65536);
  const png = await sharp(rgb16, { raw: { width: w, height: h, channels: 3 } }).toColourspace('rgb16').png().toBuffer();
  const img = await readImage(png);
  t.is(img.bitDepth, 16);
  near(t, await values(img.rgb), Array.from(rgb16, (v) => (v / 65535) * 2 - 1), 1e-6);
  img.rgb.dispose();

  const g16 = Uint16Array.from({ length: w * h }, (_, i) => i * 10001);
  const gpng = await sharp(g16, { raw: { width: w, height: h, channels: 1 } }).toColourspace('grey16').png().toBuffer();
  const gimg = await readImage(gpng);
  t.deepEqual([gimg.bitDepth, gimg.grayscale], [16, true]);
  near(t, await values(gimg.rgb), Array.from({ length: w * h * 3 }, (_, i) => (g16[Math.floor(i / 3)]! / 65535) * 2 - 1), 1e-6);
  gimg.rgb.dispose();
});

test('EXIF orientation is applied (orientation 6 = rotate 90° clockwise)', async (t) => {
  const w = 4, h = 2;
  const px = ramp8(w * h * 3, 11);
  const jpgLike = await sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().withMetadata({ orientation: 6 }).toBuffer();
  const img = await readImage(jpgLike);
  t.deepEqual([img.width, img.height], [h, w]);
  const got = await values(img.rgb);
  // Rotating 90° clockwise sends source (x, y) to (h−1−y, x).
  const want = new Array<number>(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) want[(x * h + (h - 1 - y)) * 3 + c] = (px[(y * w + x) * 3 + c]! / 255) * 2 - 1;
  near(t, got, want, 1e-6);
  img.rgb.dispose();
});

test('RawImage input: 8-bit and 16-bit, channel count checked', async (t) => {
  const raw8: RawImage = { data: Uint8Array.from([0, 255, 51, 102]), width: 2, height: 1, channels: 2 };
  const a = await readImage(raw8);
  t.deepEqual([a.bitDepth, a.grayscale], [8, true]);
  near(t, await values(a.rgb), [-1, -1, -1, 0.4 - 1, 0.4 - 1, 0.4 - 1], 1e-6);
  near(t, await values(a.alpha!), [1, 0.4], 1e-6);
  const raw16: RawImage = { data: Uint16Array.from([65535, 0, 32768]), width: 1, height: 1, channels: 3 };
  const b = await readImage(raw16);
  near(t, await values(b.rgb), [1, -1, (32768 / 65535) * 2 - 1], 1e-6);
  tf.dispose([a.rgb, a.alpha!, b.rgb]);
  await t.throwsAsync(() => readImage({ data: new Uint8Array(5), width: 2, height: 1, channels: 3 }), { message: /expected 6 samples/ });
});

test('unreadable input gives one clear error naming the file', async (t) => {
  const missing = join(dir, 'nope.png');
  await t.throwsAsync(() => readImage(missing), { message: `${missing}: no such file` });
  const empty = join(dir, 'empty.png');
  writeFileSync(empty, '');
  await t.throwsAsync(() => readImage(empty), { message: `${empty}: empty file (0 bytes)` });
  const sub = join(dir, 'adir.png');
  mkdirSync(sub, { recursive: true });
  await t.throwsAsync(() => readImage(sub), { message: /adir\.png: is a directory/ });
  const text = join(dir, 'notes.png');
  writeFileSync(text, 'this is not an image');
  await t.throwsAsync(() => readImage(text), { message: /notes\.png: not an image in a supported format \(supported: png, jpeg, webp, tiff/ });
  const png = await sharp(ramp8(64 * 64 * 3), { raw: { width: 64, height: 64, channels: 3 } }).png().toBuffer();
  const cut = join(dir, 'truncated.png');
  writeFileSync(cut, png.subarray(0, Math.floor(png.length / 2)));
  await t.throwsAsync(() => readImage(cut), { message: /truncated\.png: cannot decode image/ });
  await t.throwsAsync(() => readImage(Buffer.alloc(0)), { message: /image buffer: empty image data/ });
});

test('quantize: truncate is the reference float32 cast, round is nearest; clamped; NaN → 0', (t) => {
  const xs = [-1, 0, 1, 2, -3, Number.NaN, -0.5];
  const tr = Array.from(quantize(xs, { mode: 'truncate', bitDepth: 8, signed: true }));
  const ro = Array.from(quantize(xs, { mode: 'round', bitDepth: 8, signed: true }));
  // 0 → 127.5 and −0.5 → 63.75: truncation and rounding differ.
  t.deepEqual(tr, [0, 127, 255, 255, 0, 0, 63]);
  t.deepEqual(ro, [0, 128, 255, 255, 0, 0, 64]);
  t.deepEqual(Array.from(quantize([0, 0.5, 1], { mode: 'round', bitDepth: 16, signed: false })), [0, 32768, 65535]);
});

test('writeImage: PNG round trip of quantised tensor, with alpha', async (t) => {
  const w = 3, h = 2;
  const rgbVals = Array.from({ length: w * h * 3 }, (_, i) => Math.sin(i) * 0.99);
  const aVals = Array.from({ length: w * h }, (_, i) => i / 5);
  const rgb = tf.tensor4d(rgbVals, [1, h, w, 3]);
  const alpha = tf.tensor4d(aVals, [1, h, w, 1]);
  const out = join(dir, 'out-rgba.png');
  await writeImage(out, rgb, { alpha, quantize: 'round' });
  const back = await sharp(out).raw().toBuffer({ resolveWithObject: true });
  t.is(back.info.channels, 4);
  const q = quantize(rgbVals, { mode: 'round', bitDepth: 8, signed: true });
  const qa = quantize(aVals, { mode: 'round', bitDepth: 8, signed: false });
  const want = Array.from({ length: w * h * 4 }, (_, i) => (i % 4 === 3 ? qa[Math.floor(i / 4)]! : q[Math.floor(i / 4) * 3 + (i % 4)]!));
  t.deepEqual(Array.from(back.data), want);
  tf.dispose([rgb, alpha]);
  t.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temporary files left');
});

test('16-bit PNG output and grayscale output', async (t) => {
  const vals = [-1, -0.5, 0, 0.25, 0.5, 1];
  const rgb = tf.tensor4d(vals.flatMap((v) => [v, v, v]), [1, 2, 3, 3]);
  const out16 = join(dir, 'deep.png');
  await writeImage(out16, rgb, { bitDepth: 16, quantize: 'round' });
  const meta = await sharp(out16).metadata();
  t.deepEqual([meta.depth, meta.channels], ['ushort', 3]);
  const back = await readImage(out16);
  near(t, await values(back.rgb), vals.flatMap((v) => { const q = Math.round(((v + 1) / 2) * 65535); return [q, q, q]; }).map((q) => (q / 65535) * 2 - 1), 1e-6);
  back.rgb.dispose();
  const gray = join(dir, 'gray.png');
  await writeImage(gray, rgb, { grayscale: true });
  const gm = await sharp(gray).metadata();
  t.is(gm.channels, 1);
  const graw = await sharp(gray).extractChannel(0).raw().toBuffer();
  t.deepEqual(Array.from(graw), Array.from(quantize(vals, { mode: 'truncate', bitDepth: 8, signed: true })));
  rgb.dispose();
  await t.throwsAsync(() => writeImage(join(dir, 'deep.jpg'), tf.zeros([1, 2, 2, 3]) as tf.Tensor4D, { bitDepth: 16 }), { message: /deep\.jpg: cannot encode image \(16-bit output is supported for png only/ });
});

test('format by extension: JPEG/WebP/TIFF written; JPEG drops alpha; unknown extension lists supported ones', async (t) => {
  const rgb = tf.fill([1, 4, 4, 3], 0.2) as tf.Tensor4D;
  const alpha = tf.fill([1, 4, 4, 1], 0.5) as tf.Tensor4D;
  for (const [ext, fmt] of [['jpg', 'jpeg'], ['JPEG', 'jpeg'], ['webp', 'webp'], ['tif', 'tiff']] as const) {
    const p = join(dir, `x.${ext}`);
    await writeImage(p, rgb, { alpha });
    const m = await sharp(p).metadata();
    t.is(m.format, fmt);
    t.is(m.hasAlpha, fmt !== 'jpeg', ext);
  }
  t.throws(() => outputFormatFor('a/b.bmp'), { message: 'a/b.bmp: unsupported output format ".bmp" (supported: .png, .jpg, .jpeg, .webp, .tif, .tiff)' });
  await t.throwsAsync(() => writeImage(join(dir, 'x.gif'), rgb), { message: /unsupported output format "\.gif"/ });
  const buf = await encodeImage(rgb, { format: 'png' });
  t.is((await sharp(buf).metadata()).format, 'png');
  tf.dispose([rgb, alpha]);
});

test('a failed write leaves no file behind', async (t) => {
  const bad = tf.zeros([1, 2, 2, 4]) as tf.Tensor4D;
  const p = join(dir, 'bad.png');
  await t.throwsAsync(() => writeImage(p, bad), { message: /bad\.png: cannot encode image \(image tensor must be \[1, H, W, 3\]/ });
  await t.throwsAsync(() => writeImage(join(dir, 'no-such-dir', 'x.png'), tf.zeros([1, 2, 2, 3]) as tf.Tensor4D));
  t.deepEqual(readdirSync(dir).filter((f) => f.startsWith('bad') || f.endsWith('.tmp')), []);
  bad.dispose();
});

test.serial('resizeAlpha keeps a constant matte constant and does not leak tensors', async (t) => {
  const a = tf.fill([1, 3, 5, 1], 0.5) as tf.Tensor4D;
  const before = tf.memory().numTensors;
  const r = await resizeAlpha(a, 20, 12);
  t.deepEqual(r.shape, [1, 12, 20, 1]);
  near(t, await values(r), new Array(240).fill(0.5), 1 / 65535);
  r.dispose();
  t.is(tf.memory().numTensors, before);
  a.dispose();
});

test.serial('readImage allocates exactly the returned tensors', async (t) => {
  const png = await sharp(ramp8(2 * 2 * 4), { raw: { width: 2, height: 2, channels: 4 } }).png().toBuffer();
  const before = tf.memory().numTensors;
  const img = await readImage(png);
  t.is(tf.memory().numTensors, before + 2);
  tf.dispose([img.rgb, img.alpha!]);
  t.is(tf.memory().numTensors, before);
});
