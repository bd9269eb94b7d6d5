// Unit tests of the CLIP tokenizer beyond the golden `text.tokenize` fixture. Expected ids come from the fixture
// manifest (the open_clip reference run); cleaning expectations were checked against CPython 3.11 `html.unescape`.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireFixtures } from '../../../test/fixtureGate.js';
import { ClipTokenizer, cleanPrompt, htmlUnescape, readDiffusersTokenizerFolder, readOpenClipVocabulary } from '../src/text/index.js';

const root = requireFixtures('CLIP tokenizer on the text.tokenize fixture');
const vocabPath = root ? join(root, 'tokenizer', 'bpe_simple_vocab_16e6.txt.gz') : undefined;
const manifest = root
  ? (JSON.parse(readFileSync(join(root, 'text.tokenize', 'manifest.json'), 'utf8')) as { inputs: { prompts: { value: string[] } }; untruncated_ids: number[][] })
  : undefined;

const openClip = vocabPath ? ClipTokenizer.load(vocabPath) : undefined;

/** A diffusers-style `tokenizer/` folder holding the open_clip merges under HF's special-token names. */
function writeHfFolder(extra: Record<string, unknown> = {}, files: { vocab?: boolean; merges?: boolean } = {}): string {
  const v = readOpenClipVocabulary(vocabPath!);
  const vocab: Record<string, number> = {};
  for (const [k, id] of Object.entries(v.vocab)) vocab[k === '<start_of_text>' ? '<|startoftext|>' : k === '<end_of_text>' ? '<|endoftext|>' : k] = id;
  const dir = mkdtempSync(join(tmpdir(), 'clip-tok-'));
  if (files.vocab !== false) writeFileSync(join(dir, 'vocab.json'), JSON.stringify(vocab));
  if (files.merges !== false) writeFileSync(join(dir, 'merges.txt'), ['#version: 0.2', ...v.merges].join('\n') + '\n');
  if (Object.keys(extra).length) writeFileSync(join(dir, 'special_tokens_map.json'), JSON.stringify(extra));
  return dir;
}

if (openClip && manifest) {
  const prompts = manifest.inputs.prompts.value;

  test('untruncated ids match the reference for every fixture prompt', (t) => {
    prompts.forEach((p, i) => t.deepEqual(openClip.encodeUntruncated(p), manifest.untruncated_ids[i], JSON.stringify(p)));
  });

  test('truncation keeps the first 76 ids and ends with the end token; padding is 0 (open_clip)', (t) => {
    const rows = openClip.tokenize(prompts);
    prompts.forEach((_, i) => {
      const full = manifest.untruncated_ids[i]!;
      const row = [...rows[i]!];
      t.is(row.length, 77);
      if (full.length > 77) {
        t.deepEqual(row.slice(0, 76), full.slice(0, 76));
        t.is(row[76], 49407);
      } else {
        t.deepEqual(row.slice(0, full.length), full);
        t.true(row.slice(full.length).every((id) => id === 0));
      }
    });
    t.true(manifest.untruncated_ids.some((ids) => ids.length > 77), 'the fixture has a prompt that needs truncation');
  });

  test('context length and pad id are configurable', (t) => {
    const short = ClipTokenizer.load(vocabPath!, { contextLength: 5, padTokenId: 7 });
    t.deepEqual([...short.tokenize(['a photo of a cat'])[0]!], [49406, 320, 1125, 539, 49407]);
    t.deepEqual([...short.tokenize(['a'])[0]!], [49406, 320, 49407, 7, 7]);
  });

  test('special tokens are recognised only where the reference regex yields them', (t) => {
    // open_clip's cache returns "<start_of_text>" unsplit when the regex matches it as one piece…
    t.deepEqual(openClip.encodeUntruncated('<start_of_text>'), [49406, 49406, 49407]);
    // …but "!!<" is one punctuation run, so the same text after "!!" is ordinary BPE.
    const ids = openClip.encodeUntruncated('!!<start_of_text>');
    t.false(ids.slice(1).includes(49406));
    t.true(ids.length > 4);
  });

  test('prompt cleaning reproduces ftfy(NFC) + html.unescape twice + whitespace + lower-case', (t) => {
    t.is(cleanPrompt('  A  &amp;lt;  B\t\nC  '), 'a < b c');
    t.is(cleanPrompt('cafe\u0301'), 'caf\u00e9');
    // The `regex` module's \s does not contain U+001C–U+001F, str.strip() does.
    t.is(cleanPrompt('\x1c a\u3000\x1cb \x1f'), 'a \x1cb');
    t.is(cleanPrompt('&amp;amp;', 'hf_clip'), '&amp;amp;');
    for (const [s, expected] of [['&ampx', '&x'], ['&#128;', '\u20ac'], ['&#0;', '\ufffd'], ['&#1;', ''], ['&notit;', '\u00acit;'], ['&#x1F600;', '\u{1F600}'], ['&#55296;', '\ufffd'], ['&lt', '<'], ['&Eacute;t&eacute', '\u00c9t\u00e9']] as const) {
      t.is(htmlUnescape(s), expected, s);
    }
  });

  test('HF tokenizer folder: same BPE, pads with the end token unless the folder names a pad token', (t) => {
    const plain = writeHfFolder();
    const sd2 = writeHfFolder({ pad_token: '!' });
    try {
      const hf = ClipTokenizer.load(plain);
      t.is(hf.startTokenId, 49406);
      t.is(hf.endTokenId, 49407);
      t.is(hf.padTokenId, 49407);
      const row = [...hf.tokenize(['a photo of a cat'])[0]!];
      t.deepEqual(row.slice(0, 7), manifest.untruncated_ids[1]);
      t.true(row.slice(7).every((id) => id === 49407));
      t.deepEqual(ClipTokenizer.load(sd2).padTokenId, 0);
      // HF's CLIPTokenizer does not unescape HTML; open_clip unescapes twice.
      t.deepEqual(hf.encodeUntruncated('x &amp; y'), openClip.encodeUntruncated('x &amp;amp;amp; y'));
      t.notDeepEqual(hf.encodeUntruncated('x &amp; y'), openClip.encodeUntruncated('x &amp; y'));
    } finally {
      rmSync(plain, { recursive: true });
      rmSync(sd2, { recursive: true });
    }
  });

  test('missing vocabulary files are errors naming the file', (t) => {
    const missing = join(tmpdir(), 'no-such-dir', 'bpe_simple_vocab_16e6.txt.gz');
    t.throws(() => ClipTokenizer.load(missing), { message: new RegExp(missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) });
    const noMerges = writeHfFolder({}, { merges: false });
    const noVocab = writeHfFolder({}, { vocab: false });
    try {
      t.throws(() => readDiffusersTokenizerFolder(noMerges), { message: /merges\.txt: missing/ });
      t.throws(() => ClipTokenizer.load(noVocab), { message: /vocab\.json: missing/ });
    } finally {
      rmSync(noMerges, { recursive: true });
      rmSync(noVocab, { recursive: true });
    }
  });

  test('decode inverts the byte-level BPE', (t) => {
    t.is(openClip.decode(openClip.encodeUntruncated('a photo of a cat')), '<start_of_text>a photo of a cat <end_of_text>');
  });
}
