import { STOP_WORDS } from "./text-analyzer.ts";

/**
 * Words that frame a question or a request rather than name its subject ("how do I …", "can you tell me
 * about …", "I'd like to know …"); dropped along with the stop words.
 */
const QUESTION_WORDS: ReadonlySet<string> = new Set(
  (
    "what whats which who whom whose when where why how hows whether whatever whichever whoever however " +
    "please pls kindly hi hello hey thanks thank tell explain describe show give know wondering wonder " +
    "want wanted like need anyone someone anybody somebody something anything " +
    "can't cant could couldn't would wouldn't should shouldn't does doesn't did didn't is isn't are aren't " +
    "i'm im i'd id i've ive i'll ill let's lets you'd you're youre there's theres"
  ).split(" "),
);

/**
 * Words as the query wrote them: letters, marks and digits, joined across inner apostrophes, points,
 * hyphens and underscores ("don't", "node.js", "e-mail", "3.5"), with a trailing "+"/"#" kept ("C++", "C#").
 */
const WORD = /[\p{L}\p{M}\p{N}]+(?:['’._-][\p{L}\p{M}\p{N}]+)*(?:\+\+|#)?(?:['’]s\b)?/gu;
const POSSESSIVE = /['’]s$/;

/**
 * Rewrites a natural-language question into a keyword query: the question's content words in their
 * original order and spelling, without question and request words, stop words, punctuation or repeats
 * ("How do I get a refund for a refund request?" → "get refund request"). Deterministic. When nothing
 * is left (the query is all stop words), returns the original query, trimmed.
 */
export function rewriteQuery(query: string): string {
  const kept: string[] = [];
  const seen = new Set<string>();
  for (let [word] of query.matchAll(WORD)) {
    let key = word.normalize("NFKC").toLowerCase().replaceAll("’", "'");
    if (STOP_WORDS.has(key) || QUESTION_WORDS.has(key)) continue;
    if (POSSESSIVE.test(key)) {
      // "the user's guide" → "user guide"
      word = word.slice(0, -2);
      key = key.slice(0, -2);
    }
    if (seen.has(key) || STOP_WORDS.has(key)) continue;
    seen.add(key);
    kept.push(word);
  }
  return kept.length > 0 ? kept.join(" ") : query.trim();
}
