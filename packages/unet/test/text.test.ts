import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import { Fixture, compareArrays, tfjsOps } from '@stablesr/core';
import { join } from 'node:path';
import { requireFixtureOfKind, requireFixtures } from '../../../test/fixtureGate.js';
import { registerFixtureTests } from '../../../test/fixtureSuite.js';
import { textKinds } from '../src/parity/textKinds.js';
import { type OpenClipTextCfg, ClipTokenizer, TextConditioner } from '../src/text/index.js';

registerFixtureTests(textKinds);

// TextConditioner over the `text.encode` fixture's tower (expected z from the reference run).
const root = requireFixtures('TextConditioner on the text.encode fixture');
const dir = root && requireFixtureOfKind(root, 'text.encode');

if (root && dir) {
  const vocab = join(root, 'tokenizer', 'bpe_simple_vocab_16e6.txt.gz');
  const fx = new Fixture(dir);
  const textCfg = (fx.config.open_clip_model_cfg as { text_cfg: OpenClipTextCfg }).text_cfg;
  const prompts = fx.value<string[]>('prompts');
  const load = (layer: 'last' | 'penultimate' = 'penultimate', cfg: OpenClipTextCfg = textCfg) =>
    TextConditioner.load({ encoder: { type: 'open_clip', text_cfg: cfg, layer }, weights: fx.weights(0), tokenizer: vocab });
  test.after.always(() => fx.close());

  const maxAbs = async (a: tf.Tensor, b: tf.Tensor) => {
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))));
    const v = (await d.data())[0]!;
    d.dispose();
    return v;
  };

  test.serial('encode matches the reference rows in any order, empty prompts from the cache', async (t) => {
    const text = load();
    const expected = fx.expected('z') as tf.Tensor3D; // [N, 77, W], rows in prompt order
    const order = [3, 0, 1, 0, 2];
    const z = await text.encode(order.map((i) => prompts[i]!));
    const want = tf.gather(expected, tf.tensor1d(order, 'int32'));
    t.deepEqual(z.shape, [order.length, 77, textCfg.width]);
    const spec = fx.manifest.outputs.z!;
    const cmp = compareArrays(await z.data(), await want.data(), spec.atol, spec.rtol);
    t.true(cmp.pass, `max |err| ${cmp.maxAbsErr} vs the manifest's atol ${spec.atol}, rtol ${spec.rtol}`);
    const e = await text.emptyEmbedding();
    const emptyIds = text.tokenizer.tokenizeTensor(['']);
    const fromIds = await text.encodeIds(emptyIds);
    t.is(await maxAbs(e, fromIds), 0);
    tf.dispose([expected, z, want, e, emptyIds, fromIds]);
    text.dispose();
  });

  test.serial('no tensor leak on repeated encode; dispose releases weights and the empty-prompt cache', async (t) => {
    // tfjsOps keeps one causal mask per sequence length, shared by every tower (not the tower's): make it first.
    tf.tidy(() => {
      const v = tf.zeros([1, textCfg.context_length, 2]);
      tfjsOps.attention(v, v, v, { heads: 1, scale: 1, causal: true });
    });
    const before = tf.memory().numTensors;
    const text = load();
    const loaded = tf.memory().numTensors;
    tf.dispose(await text.encode(['', 'a cat']));
    const cached = tf.memory().numTensors;
    t.is(cached, loaded + 1, 'exactly one cached tensor (the empty-prompt embedding)');
    for (let i = 0; i < 3; i++) tf.dispose(await text.encode(['a photo of a cat', '', '', 'x']));
    tf.dispose(await text.encode(['', '']));
    tf.dispose(await text.encode(['only text']));
    t.is(tf.memory().numTensors, cached);
    text.dispose();
    t.is(tf.memory().numTensors, before);
    await t.throwsAsync(() => text.encode(['a']), { message: /after dispose/ });
  });

  test.serial('prompts longer than the context are truncated as the reference: 75 text tokens + end', async (t) => {
    const text = load();
    const words = Array.from({ length: 100 }, (_, i) => `w${i}`); // each "wN" is several BPE tokens
    const long = words.join(' ');
    const ids = text.tokenizer.tokenize([long])[0]!;
    t.is(ids[76], text.tokenizer.endTokenId);
    t.true(text.tokenizer.encodeUntruncated(long).length > 77);
    // Text beyond the first 75 tokens cannot change the embedding; text inside them does.
    const [a, b, c] = [await text.encode([long]), await text.encode([long + ' and much more']), await text.encode(['x ' + long])];
    t.is(await maxAbs(a, b), 0);
    t.true((await maxAbs(a, c)) > 1e-3);
    tf.dispose([a, b, c]);
    text.dispose();
  });

  test.serial('layer "last" runs every block and differs from "penultimate"', async (t) => {
    const last = load('last');
    const pen = load('penultimate');
    const [a, b] = [await last.encode(['a photo of a cat']), await pen.encode(['a photo of a cat'])];
    t.true((await maxAbs(a, b)) > 1e-3);
    tf.dispose([a, b]);
    last.dispose();
    pen.dispose();
  });

  test.serial('config/checkpoint/tokenizer mismatches are errors naming the problem, and free what was loaded', (t) => {
    const before = tf.memory().numTensors;
    t.throws(() => load('penultimate', { ...textCfg, layers: textCfg.layers - 1 }), { message: /cond_stage_model\.model\.transformer\.resblocks\.\d+\./ });
    t.throws(() => load('penultimate', { ...textCfg, width: textCfg.width * 2 }), { message: /token_embedding\.weight.*does not match/ });
    t.throws(
      () => TextConditioner.load({ encoder: { type: 'open_clip', text_cfg: textCfg, layer: 'penultimate' }, weights: fx.weights(0), tokenizer: ClipTokenizer.load(vocab, { contextLength: 64 }) }),
      { message: /64 ids.*context length is 77/ },
    );
    t.is(tf.memory().numTensors, before);
  });
}
