import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { type PromptCleaning } from './promptClean.js';

/**
 * A CLIP byte-level BPE vocabulary in the form Hugging Face `tokenizers` (and transformers.js) use:
 * token → id, and the merge list in rank order ("a b" per merge). Built from either published form.
 */
export interface BpeVocabulary {
  /** File or folder it came from, for messages. */
  readonly origin: string;
  /** Which reference tokenizer this vocabulary belongs to (decides prompt cleaning and default padding). */
  readonly family: PromptCleaning;
  /** Token string → id (a prototype-free object: tokens such as "constructor" are plain keys). */
  readonly vocab: Readonly<Record<string, number>>;
  /** Merges in rank order, each "left right". */
  readonly merges: readonly string[];
  readonly startToken: string;
  readonly endToken: string;
  /** Padding token named by the folder's config (HF); undefined for open_clip, which pads with id 0. */
  readonly padToken?: string;
}

/**
 * CLIP's BPE uses the first 49152 − 256 − 2 merges of its file (open_clip `merges[1:49152-256-2+1]`,
 * HF `CLIPTokenizer` the same slice), so that bytes + bytes`</w>` + merges + 2 special tokens = 49408 ids.
 */
export const CLIP_MERGE_COUNT = 49152 - 256 - 2;

/** The 256 byte symbols of GPT-2's `bytes_to_unicode` in the order the reference lists them (its dict order). */
export function byteSymbols(): string[] {
  const direct = new Set<number>();
  for (let b = 0x21; b <= 0x7e; b++) direct.add(b);
  for (let b = 0xa1; b <= 0xac; b++) direct.add(b);
  for (let b = 0xae; b <= 0xff; b++) direct.add(b);
  const table: string[] = new Array<string>(256);
  // Iteration order matters for the vocabulary: the reference lists the printable bytes first, then the shifted ones.
  const order: number[] = [...direct].sort((a, b) => a - b);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!direct.has(b)) {
      order.push(b);
      table[b] = String.fromCodePoint(256 + n++);
    } else {
      table[b] = String.fromCodePoint(b);
    }
  }
  return order.map((b) => table[b]!);
}

function splitMerges(lines: readonly string[], origin: string): string[] {
  // Line 0 is a header ("#version: 0.2" / "bpe_simple_vocab_16e6.txt#version: 0.2").
  const body = lines.slice(1, 1 + CLIP_MERGE_COUNT);
  if (body.length < CLIP_MERGE_COUNT) {
    throw new Error(`${origin}: only ${body.length} BPE merges, a CLIP vocabulary has at least ${CLIP_MERGE_COUNT} (truncated or not a CLIP BPE file)`);
  }
  return body.map((line, i) => {
    // Python's str.split() with no argument: any whitespace run, ends ignored.
    const parts = line.trim().split(/\s+/u);
    if (parts.length !== 2) throw new Error(`${origin}: line ${i + 2} is not a BPE merge ("left right"): ${JSON.stringify(line)}`);
    return `${parts[0]} ${parts[1]}`;
  });
}

/**
 * Reads open_clip's `bpe_simple_vocab_16e6.txt.gz` (gzip or plain text) and builds the vocabulary exactly as
 * open_clip v2.0.2 `SimpleTokenizer.__init__`: 256 byte symbols, the same with `</w>`, one token per merge,
 * then `<start_of_text>`, `<end_of_text>`; later duplicates overwrite earlier ids like the reference's dict.
 */
export function readOpenClipVocabulary(path: string): BpeVocabulary {
  if (!existsSync(path)) throw new Error(`${path}: BPE vocabulary file not found (open_clip's bpe_simple_vocab_16e6.txt.gz)`);
  const raw = readFileSync(path);
  const gz = raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b;
  let text: string;
  try {
    text = (gz ? gunzipSync(raw) : raw).toString('utf8');
  } catch (e) {
    throw new Error(`${path}: cannot decompress the BPE vocabulary (${(e as Error).message})`);
  }
  const merges = splitMerges(text.split('\n'), path);
  const symbols = byteSymbols();
  const tokens = [...symbols, ...symbols.map((s) => s + '</w>'), ...merges.map((m) => m.replace(' ', '')), '<start_of_text>', '<end_of_text>'];
  const vocab = Object.create(null) as Record<string, number>;
  tokens.forEach((t, i) => (vocab[t] = i));
  return { origin: path, family: 'open_clip', vocab, merges, startToken: '<start_of_text>', endToken: '<end_of_text>' };
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

/** A special token as HF stores it: a string or `{"content": ..., "__type": "AddedToken"}`. */
function tokenString(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') return (value as { content: string }).content;
  return undefined;
}

/**
 * Reads a Hugging Face / diffusers CLIP tokenizer folder (`vocab.json`, `merges.txt`, optionally
 * `special_tokens_map.json` and `tokenizer_config.json`). A diffusers pipeline root with a `tokenizer/`
 * subfolder is accepted too. `tokenizer.json` is not used: transformers.js gets a tokenizer built to
 * reproduce the slow `CLIPTokenizer` (see {@link ClipTokenizer}).
 */
export function readDiffusersTokenizerFolder(dir: string): BpeVocabulary {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`${dir}: tokenizer folder not found`);
  if (!existsSync(join(dir, 'vocab.json')) && existsSync(join(dir, 'tokenizer', 'vocab.json'))) dir = join(dir, 'tokenizer');
  const need = ['vocab.json', 'merges.txt'];
  for (const f of need) {
    const p = join(dir, f);
    if (!existsSync(p)) throw new Error(`${p}: missing (a CLIP tokenizer folder needs ${need.join(' and ')})`);
  }
  const vocabPath = join(dir, 'vocab.json');
  const parsed = readJson(vocabPath);
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`${vocabPath}: expected an object of token → id`);
  const vocab = Object.create(null) as Record<string, number>;
  for (const [k, v] of Object.entries(parsed)) {
    if (!Number.isInteger(v)) throw new Error(`${vocabPath}: id of token ${JSON.stringify(k)} is not an integer`);
    vocab[k] = v as number;
  }
  const mergesPath = join(dir, 'merges.txt');
  // HF: `merges_handle.read().strip().split("\n")[1 : 49152 - 256 - 2 + 1]`.
  const merges = splitMerges(readFileSync(mergesPath, 'utf8').trim().split('\n'), mergesPath);

  const config: Record<string, unknown> = {};
  for (const f of ['tokenizer_config.json', 'special_tokens_map.json']) {
    const p = join(dir, f);
    if (existsSync(p)) Object.assign(config, readJson(p) as Record<string, unknown>);
  }
  const startToken = tokenString(config.bos_token) ?? '<|startoftext|>';
  const endToken = tokenString(config.eos_token) ?? '<|endoftext|>';
  const padToken = tokenString(config.pad_token) ?? endToken;
  for (const [what, t] of [['bos_token', startToken], ['eos_token', endToken], ['pad_token', padToken]] as const) {
    if (vocab[t] === undefined) throw new Error(`${vocabPath}: ${what} ${JSON.stringify(t)} is not in the vocabulary`);
  }
  return { origin: dir, family: 'hf_clip', vocab, merges, startToken, endToken, padToken };
}

/**
 * Where a CLIP tokenizer's vocabulary comes from: a path to open_clip's `bpe_simple_vocab_16e6.txt.gz` or to a
 * HF/diffusers tokenizer folder (decided by whether the path is a directory), or an already-read vocabulary.
 */
export type TokenizerSource = string | BpeVocabulary;

/** Reads a {@link TokenizerSource}. */
export function readTokenizerSource(source: TokenizerSource): BpeVocabulary {
  if (typeof source !== 'string') return source;
  if (existsSync(source) && statSync(source).isDirectory()) return readDiffusersTokenizerFolder(source);
  return readOpenClipVocabulary(source);
}
