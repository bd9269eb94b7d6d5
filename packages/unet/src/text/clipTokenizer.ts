import { CLIPTokenizer, env as transformersEnv } from '@xenova/transformers';
import * as tf from '@tensorflow/tfjs-core';
import { type BpeVocabulary, type TokenizerSource, readTokenizerSource } from './bpeVocabulary.js';
import { type PromptCleaning, cleanPrompt } from './promptClean.js';

// The tokenizer is built from in-memory JSON; nothing may ever be fetched.
transformersEnv.allowRemoteModels = false;

/** Options of {@link ClipTokenizer}. */
export interface ClipTokenizerOptions {
  /** Sequence length of every row (open_clip `context_length`, HF `model_max_length`); default 77. */
  contextLength?: number;
  /**
   * Id written after the end token. Default per family: open_clip pads with 0 (`torch.zeros`), HF CLIP with its
   * `pad_token` (`<|endoftext|>` for SD 1.x, "!" = 0 for SD 2.x diffusers folders).
   */
  padTokenId?: number;
}

// `[\s]` of Python's `regex` module (Unicode White_Space); JavaScript's \s would also swallow U+FEFF.
const REGEX_MODULE_SPACE = '\\t\\n\\v\\f\\r\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
// Letters the `regex` module's IGNORECASE matches beyond the two ASCII cases (simple case folding).
const EXTRA_FOLDS: Readonly<Record<string, string>> = { i: '\\u0130', k: '\\u212a', s: '\\u017f' };

/** `literal` as a JavaScript pattern matching what `regex.compile(literal, regex.IGNORECASE)` matches. */
function ignoreCase(literal: string): string {
  return Array.from(literal, (c) => {
    const lower = c.toLowerCase();
    if (lower >= 'a' && lower <= 'z' && lower.length === 1) return `[${lower}${lower.toUpperCase()}${EXTRA_FOLDS[lower] ?? ''}]`;
    return c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
  }).join('');
}

/**
 * The reference's pre-tokenizer `<sot>|<eot>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+` (IGNORECASE,
 * single digits) rewritten for JavaScript's `gu` flags: case-insensitivity spelled out, the `regex` module's
 * whitespace set, and U+0345 excluded from the last class (under IGNORECASE the reference matches it nowhere).
 */
function splitPattern(startToken: string, endToken: string): string {
  const contractions = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"].map(ignoreCase);
  return [ignoreCase(startToken), ignoreCase(endToken), ...contractions, '[\\p{L}]+', '[\\p{N}]', `[^${REGEX_MODULE_SPACE}\\p{L}\\p{N}\\u0345]+`].join('|');
}

/** The HF `tokenizers` JSON (as transformers.js reads it) of a CLIP BPE tokenizer for already-cleaned text. */
export function clipTokenizerJson(v: BpeVocabulary): Record<string, unknown> {
  const special = (id: string) => ({ SpecialToken: { id, type_id: 0 } });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    // Special tokens are deliberately not "added tokens": transformers.js would split them out of the raw text
    // before pre-tokenisation, whereas the reference only recognises them as regex matches ("!!<start_of_text>" differs).
    added_tokens: [],
    // Cleaning (NFC, html.unescape, Python whitespace rules, lower-casing) is done by `cleanPrompt` first: the
    // tokenizers normalizers cannot unescape HTML nor order the steps as the reference does.
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: splitPattern(v.startToken, v.endToken) }, behavior: 'Removed', invert: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: {
      type: 'TemplateProcessing',
      single: [special(v.startToken), { Sequence: { id: 'A', type_id: 0 } }, special(v.endToken)],
      pair: [special(v.startToken), { Sequence: { id: 'A', type_id: 0 } }, special(v.endToken), { Sequence: { id: 'B', type_id: 0 } }, special(v.endToken)],
      special_tokens: {},
    },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: v.endToken,
      continuing_subword_prefix: '',
      end_of_word_suffix: '</w>',
      fuse_unk: false,
      vocab: v.vocab,
      merges: v.merges,
    },
  };
}

type TransformersTokenizer = InstanceType<typeof CLIPTokenizer>;

/**
 * A CLIP tokenizer reproducing open_clip v2.0.2 `tokenize` (SD 2.x, StableSR) or HF `CLIPTokenizer` (SD 1.x), running
 * the byte-level BPE through transformers.js' `CLIPTokenizer`, constructed from in-memory JSON (no files, no network).
 *
 * Around transformers.js: prompts are cleaned by {@link cleanPrompt}; the special tokens are pre-seeded in the BPE
 * cache exactly like the reference's `self.cache = {t: t for t in special_tokens}`; and truncation/padding follow the
 * reference (transformers.js truncation would cut the end token off; the reference keeps 76 tokens + end).
 * Real `ftfy` is not applied: only its NFC part (see {@link fixText}).
 */
export class ClipTokenizer {
  /** Row length of {@link ClipTokenizer.tokenize}. */
  readonly contextLength: number;
  readonly startTokenId: number;
  readonly endTokenId: number;
  readonly padTokenId: number;
  /** Prompt cleaning in use (from the vocabulary's family). */
  readonly cleaning: PromptCleaning;
  /** The transformers.js tokenizer doing pre-tokenisation, BPE and special tokens. */
  readonly inner: TransformersTokenizer;
  /** Where the vocabulary came from. */
  readonly origin: string;

  constructor(vocabulary: BpeVocabulary, opts: ClipTokenizerOptions = {}) {
    this.origin = vocabulary.origin;
    this.cleaning = vocabulary.family;
    this.contextLength = opts.contextLength ?? 77;
    if (!Number.isInteger(this.contextLength) || this.contextLength < 2) {
      throw new Error(`${this.origin}: contextLength must be an integer ≥ 2, got ${this.contextLength}`);
    }
    const idOf = (t: string, what: string): number => {
      const id = vocabulary.vocab[t];
      if (id === undefined) throw new Error(`${this.origin}: ${what} ${JSON.stringify(t)} is not in the vocabulary`);
      return id;
    };
    this.startTokenId = idOf(vocabulary.startToken, 'start token');
    this.endTokenId = idOf(vocabulary.endToken, 'end token');
    this.padTokenId = opts.padTokenId ?? (vocabulary.padToken !== undefined ? idOf(vocabulary.padToken, 'pad token') : 0);

    this.inner = new CLIPTokenizer(clipTokenizerJson(vocabulary), {
      model_max_length: this.contextLength,
      bos_token: vocabulary.startToken,
      eos_token: vocabulary.endToken,
      unk_token: vocabulary.endToken,
      clean_up_tokenization_spaces: false,
    });
    const cache = (this.inner.model as unknown as { cache?: unknown }).cache;
    if (!(cache instanceof Map)) throw new Error('@xenova/transformers: BPE model has no token cache (unsupported version; 2.17 expected)');
    // The reference returns special tokens unsplit when the regex yields them as a piece; the cache is where it does so.
    for (const t of [vocabulary.startToken, vocabulary.endToken]) cache.set(t, [t]);
  }

  /** Builds a tokenizer from open_clip's BPE file or a HF/diffusers tokenizer folder (see {@link TokenizerSource}). */
  static load(source: TokenizerSource, opts: ClipTokenizerOptions = {}): ClipTokenizer {
    return new ClipTokenizer(readTokenizerSource(source), opts);
  }

  /** The cleaned text the BPE sees (see {@link cleanPrompt}). */
  clean(text: string): string {
    return cleanPrompt(text, this.cleaning);
  }

  /** `[start] + bpe(clean(text)) + [end]`, untruncated and unpadded. */
  encodeUntruncated(text: string): number[] {
    return this.inner.encode(this.clean(text)) as number[];
  }

  /**
   * One row of {@link contextLength} ids per prompt: longer sequences keep their first `contextLength` ids with the
   * last replaced by the end token (open_clip; HF's truncation gives the same), shorter ones are right-padded.
   */
  tokenize(prompts: readonly string[]): Int32Array[] {
    return prompts.map((p) => {
      const ids = this.encodeUntruncated(p);
      const row = new Int32Array(this.contextLength).fill(this.padTokenId);
      if (ids.length > this.contextLength) {
        row.set(ids.slice(0, this.contextLength));
        row[this.contextLength - 1] = this.endTokenId;
      } else {
        row.set(ids);
      }
      return row;
    });
  }

  /** {@link tokenize} as an int32 tensor `[N, contextLength]` (caller disposes). */
  tokenizeTensor(prompts: readonly string[]): tf.Tensor2D {
    const rows = this.tokenize(prompts);
    const flat = new Int32Array(rows.length * this.contextLength);
    rows.forEach((r, i) => flat.set(r, i * this.contextLength));
    return tf.tensor2d(flat, [rows.length, this.contextLength], 'int32');
  }

  /** Text of a sequence of ids (special tokens and padding kept), for inspection. */
  decode(ids: readonly number[]): string {
    return this.inner.decode([...ids], { skip_special_tokens: false });
  }
}
