import { HTML5_NAMED_REFERENCES } from './htmlEntities.js';

// Same alternatives as CPython's `html._charref`; the `u` flag makes `{1,32}` count code points, as Python does.
const CHARREF = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/gu;

// CPython `html._invalid_charrefs`: numeric references the HTML5 spec remaps (windows-1252 for 0x80–0x9F).
const INVALID_CHARREFS: ReadonlyMap<number, string> = new Map([
  [0x00, '\ufffd'], [0x0d, '\r'], [0x80, '\u20ac'], [0x81, '\x81'], [0x82, '\u201a'], [0x83, '\u0192'], [0x84, '\u201e'],
  [0x85, '\u2026'], [0x86, '\u2020'], [0x87, '\u2021'], [0x88, '\u02c6'], [0x89, '\u2030'], [0x8a, '\u0160'], [0x8b, '\u2039'],
  [0x8c, '\u0152'], [0x8d, '\x8d'], [0x8e, '\u017d'], [0x8f, '\x8f'], [0x90, '\x90'], [0x91, '\u2018'], [0x92, '\u2019'],
  [0x93, '\u201c'], [0x94, '\u201d'], [0x95, '\u2022'], [0x96, '\u2013'], [0x97, '\u2014'], [0x98, '\u02dc'], [0x99, '\u2122'],
  [0x9a, '\u0161'], [0x9b, '\u203a'], [0x9c, '\u0153'], [0x9d, '\x9d'], [0x9e, '\u017e'], [0x9f, '\u0178'],
]);

/** CPython `html._invalid_codepoints`: code points a numeric reference silently drops. */
function isDroppedCodePoint(cp: number): boolean {
  return (
    (cp >= 0x1 && cp <= 0x8) ||
    cp === 0xb ||
    (cp >= 0xe && cp <= 0x1f) ||
    (cp >= 0x7f && cp <= 0x9f) ||
    (cp >= 0xfdd0 && cp <= 0xfdef) ||
    (cp & 0xfffe) === 0xfffe // U+xFFFE and U+xFFFF of every plane
  );
}

function replaceCharref(body: string): string {
  if (body[0] === '#') {
    const hex = body[1] === 'x' || body[1] === 'X';
    const digits = body.slice(hex ? 2 : 1).replace(/;$/, '');
    // Arbitrarily long references overflow to Infinity, which lands in the "> 0x10FFFF" branch like Python's big ints.
    const num = hex ? Number.parseInt(digits, 16) : Number(digits);
    const remapped = INVALID_CHARREFS.get(num);
    if (remapped !== undefined) return remapped;
    if ((num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff) return '\ufffd';
    if (isDroppedCodePoint(num)) return '';
    return String.fromCodePoint(num);
  }
  const named = HTML5_NAMED_REFERENCES[body];
  if (named !== undefined) return named;
  // Longest known prefix, as the standard's legacy rule ("&ampx" → "&x"); CPython tries lengths len-1 … 2.
  const cps = Array.from(body);
  for (let x = cps.length - 1; x > 1; x--) {
    const prefix = cps.slice(0, x).join('');
    const value = HTML5_NAMED_REFERENCES[prefix];
    if (value !== undefined) return value + cps.slice(x).join('');
  }
  return '&' + body;
}

/**
 * Python's `html.unescape`: replaces named and numeric character references exactly as CPython does
 * (HTML5 table, legacy names without `;`, the spec's remapping of invalid numeric references).
 * open_clip applies it twice to every prompt, so tokens depend on these details.
 */
export function htmlUnescape(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(CHARREF, (_m, body: string) => replaceCharref(body));
}
