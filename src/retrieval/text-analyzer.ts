import { stemmer } from "stemmer";

/**
 * English stop words: function words that carry no topic (Lucene's and NLTK's lists, merged), in the
 * form the analyzer sees them (lowercase, apostrophes kept).
 */
export const STOP_WORDS: ReadonlySet<string> = new Set(
  (
    "a about above after again against all am an and any are aren't as at be because been before being below " +
    "between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down during each " +
    "few for from further had hadn't has hasn't have haven't having he he'd he'll he's her here here's hers " +
    "herself him himself his how how's i i'd i'll i'm i've if in into is isn't it it's its itself let's me more " +
    "most mustn't my myself no nor not of off on once only or other ought our ours ourselves out over own same " +
    "shan't she she'd she'll she's should shouldn't so some such than that that's the their theirs them " +
    "themselves then there there's these they they'd they'll they're they've this those through to too under " +
    "until up very was wasn't we we'd we'll we're we've were weren't what what's when when's where where's " +
    "which while who who's whom why why's will with won't would wouldn't you you'd you'll you're you've your " +
    "yours yourself yourselves also just may might must shall via etc"
  ).split(" "),
);

/**
 * Words: numbers with inner decimal points or thousands commas ("3.5", "1.2.3", "1,000"), and runs of
 * letters, marks and digits joined across an inner apostrophe ("don't", "user's").
 */
const WORD = /\p{N}+(?:\.\p{N}+|,\p{N}{3}(?!\p{N}))+(?![\p{L}\p{M}])|[\p{L}\p{M}\p{N}]+(?:['’][\p{L}\p{M}]+)*/gu;
/** Scripts written without spaces between words: indexed as overlapping character pairs. */
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]/u;
const CJK_RUN = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]+/gu;
const PLAIN_WORD = /^[a-z]+$/;
const DIGIT = /\p{N}/u;

/** Stems are cached: a corpus repeats a small vocabulary, and the stemmer is the analyzer's costliest step. */
const STEM_CACHE_LIMIT = 100_000;
const stemCache = new Map<string, string>();

function stem(word: string): string {
  let stemmed = stemCache.get(word);
  if (stemmed === undefined) {
    if (stemCache.size >= STEM_CACHE_LIMIT) stemCache.clear();
    stemmed = stemmer(word);
    stemCache.set(word, stemmed);
  }
  return stemmed;
}

/**
 * The terms of a text for keyword search, in order: Unicode words, NFKC-normalized and lowercased, English
 * stop words and single letters dropped, possessive 's removed, English words Porter-stemmed ("refunds",
 * "refunded" → "refund"); numbers are kept as written ("2024", "3.5"; "1,000" → "1000"). Chinese and Japanese
 * text, written without spaces, gives overlapping character pairs.
 */
export function analyze(text: string): string[] {
  const terms: string[] = [];
  // NFKC folds compatibility forms (full-width letters, ligatures) into ordinary ones; ASCII needs none of it.
  const ascii = isAscii(text);
  const normalized = ascii ? text.toLowerCase() : text.normalize("NFKC").toLowerCase();
  for (const match of normalized.matchAll(WORD)) {
    let word = match[0];
    if (!ascii && CJK.test(word)) {
      addCjk(word, terms);
      continue;
    }
    if (word.includes("’")) word = word.replaceAll("’", "'");
    if (STOP_WORDS.has(word)) continue;
    if (word.includes("'")) {
      if (word.endsWith("'s")) word = word.slice(0, -2);
      word = word.replaceAll("'", "");
      if (STOP_WORDS.has(word)) continue;
    } else if (word.includes(",")) {
      word = word.replaceAll(",", "");
    }
    if (word.length < 2 && !DIGIT.test(word)) continue;
    terms.push(PLAIN_WORD.test(word) && word.length > 2 ? stem(word) : word);
  }
  return terms;
}

function addCjk(word: string, terms: string[]): void {
  let last = 0;
  for (const run of word.matchAll(CJK_RUN)) {
    const index = run.index;
    if (index > last) terms.push(word.slice(last, index));
    const chars = [...run[0]];
    if (chars.length === 1) terms.push(chars[0] as string);
    for (let i = 0; i + 1 < chars.length; i++) terms.push((chars[i] as string) + (chars[i + 1] as string));
    last = index + run[0].length;
  }
  if (last < word.length) terms.push(word.slice(last));
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}
