import test from 'ava';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDiffusersFolder, openTensorSource, openWeights, WeightFileError } from '@stablesr/core';
import { assertTensors, dataPath, type ExpectedTensor, expectedFor, expectedRaw } from './weightTestData.js';

const tmp = mkdtempSync(join(tmpdir(), 'stablesr-diffusers-'));
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));

const TINY = dataPath('diffusers_tiny');
const expected = expectedFor('diffusers_tiny').tensors;

/** Expected tensors sorted the way the reader lists them: components alphabetically, file order within. */
function sortedByComponent(e: Record<string, ExpectedTensor>): Record<string, ExpectedTensor> {
  const order = (k: string): string => k.slice(0, k.indexOf('.'));
  return Object.fromEntries(Object.entries(e).sort(([a], [b]) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0)));
}

function copyTiny(name: string): string {
  const p = join(tmp, name);
  cpSync(TINY, p, { recursive: true });
  return p;
}

test('pipeline folder: sharded safetensors, safetensors and torch .bin components under their prefixes', (t) => {
  const src = openDiffusersFolder(TINY);
  assertTensors(t, src, sortedByComponent(expected));
  t.is(src.metadata.format, 'diffusers');
  t.is(src.metadata['files.vae'], 'vae/diffusion_pytorch_model.safetensors');
  t.regex(src.metadata['files.unet']!, /index\.json.*00001-of-00002.*00002-of-00002/);
  t.is(src.metadata['files.text_encoder'], 'text_encoder/pytorch_model.bin');
  src.close();
});

test('openWeights on a folder: model packages scope a component view', (t) => {
  const w = openWeights(TINY);
  const unet = w.scope('unet.');
  t.deepEqual(unet.keys().sort(), ['conv_in.bias', 'conv_in.weight', 'time_embedding.linear_1.weight']);
  t.deepEqual([...unet.data('conv_in.weight', [2, 2])], expected['unet.conv_in.weight']!.values);
  t.deepEqual([...w.scope('text_encoder.').data('text_model.embeddings.position_ids')], expected['text_encoder.text_model.embeddings.position_ids']!.values);
  w.close();
});

test('variant fp16 picks the fp16 files and is strict about components without them', (t) => {
  const fp16 = copyTiny('fp16only');
  rmSync(join(fp16, 'unet'), { recursive: true });
  rmSync(join(fp16, 'text_encoder'), { recursive: true });
  const want = expectedRaw<ExpectedTensor>('diffusers_tiny_vae_fp16');
  const src = openTensorSource(fp16, { variant: 'fp16' });
  assertTensors(t, src, { 'vae.decoder.conv_out.weight': want });
  src.close();
  const err = t.throws(() => openDiffusersFolder(TINY, { variant: 'fp16' }), { instanceOf: WeightFileError });
  t.regex(err!.message, /diffusers_tiny\/(text_encoder|unet).*has a config\.json but no weight file.*fp16/);
});

test('an fp16 variant is used when a component has nothing else', (t) => {
  const p = copyTiny('fallback');
  unlinkSync(join(p, 'vae', 'diffusion_pytorch_model.safetensors'));
  const src = openDiffusersFolder(p);
  t.is(src.metadata['files.vae'], 'vae/diffusion_pytorch_model.fp16.safetensors');
  const e = src.entries().get('vae.decoder.conv_out.weight')!;
  t.is(e.dtype, 'F16');
  t.deepEqual([...e.read()], expectedRaw<ExpectedTensor>('diffusers_tiny_vae_fp16').values);
  src.close();
});

test('single component folder keeps its own keys', (t) => {
  const src = openTensorSource(join(TINY, 'unet'));
  const unetOnly = Object.fromEntries(Object.entries(expected).filter(([k]) => k.startsWith('unet.')).map(([k, v]) => [k.slice(5), v]));
  assertTensors(t, src, unetOnly);
  src.close();
  const te = openDiffusersFolder(join(TINY, 'text_encoder'));
  t.deepEqual([...te.entries().keys()], ['text_model.embeddings.position_ids', 'text_model.final_layer_norm.weight']);
  te.close();
});

test('broken folders fail naming the folder, file or key', (t) => {
  const noShard = copyTiny('noshard');
  unlinkSync(join(noShard, 'unet', 'diffusion_pytorch_model-00002-of-00002.safetensors'));
  t.throws(() => openDiffusersFolder(noShard), { instanceOf: WeightFileError, message: /unet\/diffusion_pytorch_model\.safetensors\.index\.json.*shard "diffusion_pytorch_model-00002-of-00002\.safetensors".*missing/ });

  const badIndex = copyTiny('badindex');
  const indexPath = join(badIndex, 'unet', 'diffusion_pytorch_model.safetensors.index.json');
  const index = JSON.parse(readFileSync(indexPath, 'utf8')) as { weight_map: Record<string, string> };
  index.weight_map['conv_out.weight'] = 'diffusion_pytorch_model-00001-of-00002.safetensors';
  writeFileSync(indexPath, JSON.stringify(index));
  t.throws(() => openDiffusersFolder(badIndex), { message: /00001-of-00002\.safetensors \[conv_out\.weight\].*missing from its shard/ });

  const noWeights = copyTiny('noweights');
  unlinkSync(join(noWeights, 'text_encoder', 'pytorch_model.bin'));
  t.throws(() => openDiffusersFolder(noWeights), { message: /noweights\/text_encoder.*"text_encoder" has a config\.json but no weight file/ });

  const empty = join(tmp, 'empty');
  mkdirSync(empty);
  t.throws(() => openTensorSource(empty), { message: /empty.*neither a diffusers pipeline.*diffusion_pytorch_model\.safetensors/ });

  const badJson = copyTiny('badjson');
  writeFileSync(join(badJson, 'model_index.json'), '{ not json');
  t.throws(() => openDiffusersFolder(badJson), { message: /badjson\/model_index\.json.*not valid JSON/ });

  const hostile = copyTiny('hostilebin');
  cpSync(dataPath('hostile_os_system.ckpt'), join(hostile, 'text_encoder', 'pytorch_model.bin'));
  t.throws(() => openDiffusersFolder(hostile), { message: /text_encoder\/pytorch_model\.bin.*refusing global "os\.system"/ });
});
