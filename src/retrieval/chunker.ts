import { countTokens, decodeGenerator, encode } from "gpt-tokenizer";

/** One chunk of a file's text: an exact slice of it, and its size by the o200k tokenizer. */
export interface Chunk {
  text: string;
  tokens: number;
}

export interface ChunkingOptions {
  /** Most tokens in one chunk (OpenAI: 100–4096). */
  maxTokens: number;
  /** Tokens each chunk shares with the next (OpenAI: at most half of maxTokens). */
  overlapTokens: number;
}

/** OpenAI's `auto` chunking strategy. */
export const AUTO_CHUNKING: Readonly<ChunkingOptions> = Object.freeze({ maxTokens: 800, overlapTokens: 400 });

/** Special-token text such as `<|endoftext|>` in a document is ordinary text, never a control token. */
const AS_PLAIN_TEXT = { disallowedSpecial: new Set<string>() };
/** Most tokens a window's end is moved back to land between two words. */
const MAX_WORD_SNAP = 32;

/**
 * Splits text the way OpenAI's static chunking does: windows of `maxTokens` o200k tokens, each next window
 * starting `maxTokens - overlapTokens` tokens later, the last one ending at the end of the text.
 *
 * Windows are cut on token boundaries that fall between characters (never inside one), and a window's end
 * is moved back by up to a few tokens where that lets both its end and the next window's start fall at a
 * word boundary (whitespace after a non-space character), so chunks do not begin or end in the middle of
 * a word. Moving the end keeps the overlap exact and only makes a chunk shorter. Text without such
 * boundaries (long runs without whitespace, CJK) is cut on the nearest character boundary instead.
 *
 * Each chunk's text is an exact slice of the input (consecutive chunks overlap), and `tokens` is its count
 * by the tokenizer, never more than `maxTokens`. Text that is empty or only whitespace gives no chunks.
 */
export function chunkText(text: string, options: ChunkingOptions): Chunk[] {
  const { maxTokens, overlapTokens } = options;
  if (!Number.isInteger(maxTokens) || maxTokens < 1) throw new RangeError(`maxTokens must be a positive integer, got ${maxTokens}.`);
  if (!Number.isInteger(overlapTokens) || overlapTokens < 0 || overlapTokens >= maxTokens) {
    throw new RangeError(`overlapTokens must be an integer from 0 to maxTokens - 1, got ${overlapTokens}.`);
  }
  if (text.trim() === "") return [];
  const tokens = encode(text, AS_PLAIN_TEXT);
  const n = tokens.length;
  if (n <= maxTokens) return [{ text, tokens: n }];
  const offsets = tokenOffsets(tokens, text.length);
  const cuts = new CutPoints(text, offsets);
  const snap = Math.min(MAX_WORD_SNAP, Math.floor((maxTokens - overlapTokens) / 2));

  const chunks: Chunk[] = [];
  let start = 0;
  for (;;) {
    const limit = start + maxTokens;
    const target = limit >= n ? n : chooseEnd(cuts, start, limit, overlapTokens, snap);
    const { chunk, end } = makeChunk(text, cuts, start, target, maxTokens);
    chunks.push(chunk);
    if (end >= n) return chunks;
    start = nextStart(cuts, start, end, overlapTokens);
  }
}

/**
 * offsets[i] is the UTF-16 offset in the text where token i starts (offsets[n] = text length), or -1 where
 * token i starts inside a character (a character whose UTF-8 bytes span several tokens).
 */
function tokenOffsets(tokens: number[], length: number): Int32Array {
  const offsets = new Int32Array(tokens.length + 1).fill(-1);
  offsets[0] = 0;
  let index = 0;
  // decodeGenerator pulls one token at a time and yields text only once a character is complete, so after
  // each yield `index` is the last token consumed, and the text so far ends right after it.
  function* feed(): Generator<number> {
    for (index = 0; index < tokens.length; index++) yield tokens[index] as number;
  }
  let chars = 0;
  for (const piece of decodeGenerator(feed())) {
    chars += piece.length;
    offsets[index + 1] = chars;
  }
  if (chars !== length) throw new Error(`Tokenizer round trip changed the text length (${length} → ${chars}).`);
  return offsets;
}

/** Classifies token boundaries as cut points. */
class CutPoints {
  readonly #text: string;
  readonly #offsets: Int32Array;
  readonly #n: number;
  constructor(text: string, offsets: Int32Array) {
    this.#text = text;
    this.#offsets = offsets;
    this.#n = offsets.length - 1;
  }

  /** Between two characters. */
  safe(i: number): boolean {
    return (this.#offsets[i] ?? -1) >= 0;
  }

  /**
   * At a word boundary where the tokenizer's pre-tokenization also splits: a space between two non-space
   * characters, or a line break after a letter or digit. The text on either side of such a point encodes
   * to exactly the tokens it had in context, so a chunk cut at such points counts `end - start` tokens.
   */
  word(i: number): boolean {
    if (i === 0 || i === this.#n) return true;
    const at = this.#offsets[i] ?? -1;
    if (at <= 0) return false;
    const c = this.#text.charCodeAt(at);
    const before = this.#text.charCodeAt(at - 1);
    if (c === 0x20) return !isSpace(before) && at + 1 < this.#text.length && !isSpace(this.#text.charCodeAt(at + 1));
    if (c === 0x0a || c === 0x0d) return letterOrDigitBefore(this.#text, at);
    return false;
  }

  offset(i: number): number {
    return this.#offsets[i] ?? -1;
  }
}

const SPACE = /\s/;

/** Whether the UTF-16 unit is whitespace as the tokenizer's `\s` sees it. */
function isSpace(c: number): boolean {
  if (c < 0x80) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  return SPACE.test(String.fromCharCode(c));
}

const LETTER_OR_DIGIT = /^[\p{L}\p{N}]$/u;

/** Whether the character (code point) ending at `end` is a letter or a digit. */
function letterOrDigitBefore(text: string, end: number): boolean {
  const c = text.charCodeAt(end - 1);
  if (c < 0x80) return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
  const start = c >= 0xdc00 && c <= 0xdfff && end >= 2 ? end - 2 : end - 1;
  return LETTER_OR_DIGIT.test(text.slice(start, end));
}

/**
 * The end of the window starting at `start` whose full end would be `limit`: the latest point no more than
 * `snap` tokens back where both it and the next window's start (`overlap` earlier) are word boundaries;
 * failing that, the latest where both fall between characters.
 */
function chooseEnd(cuts: CutPoints, start: number, limit: number, overlap: number, snap: number): number {
  // The next window must start after this one does, so the end stays beyond start + overlap.
  const lowest = start + overlap + 1;
  for (let end = limit; end >= Math.max(lowest, limit - snap); end--) {
    if (cuts.word(end) && cuts.word(end - overlap)) return end;
  }
  for (let end = limit; end >= lowest; end--) {
    if (cuts.safe(end) && cuts.safe(end - overlap)) return end;
  }
  for (let end = limit; end > start; end--) if (cuts.safe(end)) return end;
  return limit; // unreachable: the text's end is always a safe point, and start + 1 … limit holds one
}

/** Where the window after [start, end) starts: `overlap` tokens before `end`, or the nearest safe point after. */
function nextStart(cuts: CutPoints, start: number, end: number, overlap: number): number {
  for (let next = end - overlap; next < end; next++) if (next > start && cuts.safe(next)) return next;
  return end;
}

/** The chunk [start, end), or a shorter one where a slice cut inside a word encodes to too many tokens. */
function makeChunk(text: string, cuts: CutPoints, start: number, end: number, maxTokens: number): { chunk: Chunk; end: number } {
  const from = cuts.offset(start);
  if (cuts.word(start) && cuts.word(end)) return { chunk: { text: text.slice(from, cuts.offset(end)), tokens: end - start }, end };
  // Out of context a slice cut inside a word may encode to more tokens than it had in context, so count
  // it, and shorten it a character boundary at a time in the rare case that it no longer fits.
  let last: { chunk: Chunk; end: number } | undefined;
  for (let e = end; e > start; e--) {
    if (!cuts.safe(e)) continue;
    const slice = text.slice(from, cuts.offset(e));
    last = { chunk: { text: slice, tokens: countTokens(slice, AS_PLAIN_TEXT) }, end: e };
    if (last.chunk.tokens <= maxTokens) return last;
  }
  // Only a window of a few tokens could get here; keep its smallest slice rather than lose text.
  return last ?? { chunk: { text: text.slice(from, cuts.offset(end)), tokens: countTokens(text.slice(from, cuts.offset(end)), AS_PLAIN_TEXT) }, end };
}
