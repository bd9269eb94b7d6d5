import { htmlUnescape } from './htmlUnescape.js';

/**
 * Which reference's prompt cleaning to reproduce.
 * - `open_clip`: open_clip v2.0.2 `whitespace_clean(basic_clean(text)).lower()` (SD 2.x / StableSR).
 * - `hf_clip`: Hugging Face `CLIPTokenizer._tokenize` with ftfy installed, `whitespace_clean(fix_text(text)).lower()`
 *   (SD 1.x `FrozenCLIPEmbedder`, diffusers `tokenizer/` folders); unlike open_clip it does not unescape HTML.
 */
export type PromptCleaning = 'open_clip' | 'hf_clip';

// Characters Python's str.isspace() accepts: what str.strip() and stdlib `re`'s \s remove.
const PY_SPACE = '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
// The `regex` module's \s (Unicode White_Space): unlike str.isspace() it excludes U+001C–U+001F.
// open_clip does `import regex as re`, so its whitespace_clean collapses only these.
const REGEX_MODULE_SPACE = '\\t\\n\\v\\f\\r\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

const PY_STRIP = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, 'gu');
const PY_RE_SPACE_RUN = new RegExp(`[${PY_SPACE}]+`, 'gu');
const REGEX_MODULE_SPACE_RUN = new RegExp(`[${REGEX_MODULE_SPACE}]+`, 'gu');

/** Python's `str.strip()` (JavaScript's `trim()` uses another whitespace set: it strips U+FEFF, keeps U+001C–U+001F). */
export function pyStrip(s: string): string {
  return s.replace(PY_STRIP, '');
}

/**
 * Stand-in for `ftfy.fix_text`: Unicode NFC only, as the golden fixtures' oracle. Real ftfy also repairs
 * mojibake, unescapes some HTML and normalises some punctuation; prompts it would change are not reproduced.
 */
export function fixText(s: string): string {
  return s.normalize('NFC');
}

/**
 * The text a CLIP tokenizer of the given family actually splits, byte-encodes and BPE-merges.
 * open_clip: `fix_text` → `html.unescape` twice → strip → collapse `regex`-module whitespace runs to one space → strip
 * → lower-case. hf_clip: `fix_text` → collapse `re` whitespace runs → strip → lower-case.
 */
export function cleanPrompt(text: string, cleaning: PromptCleaning = 'open_clip'): string {
  let t = fixText(text);
  if (cleaning === 'open_clip') {
    t = pyStrip(htmlUnescape(htmlUnescape(t)));
    t = pyStrip(t.replace(REGEX_MODULE_SPACE_RUN, ' '));
  } else {
    t = pyStrip(t.replace(PY_RE_SPACE_RUN, ' '));
  }
  // Full Unicode lower-casing (final sigma, İ → i̇), the same mapping as Python's str.lower().
  return t.toLowerCase();
}
