import type { LlamaModel, Token } from "node-llama-cpp";

/** Tokens a UTF-8 character can be split across before we give up waiting and emit what we have. */
const MAX_PENDING = 6;
/** Preceding tokens passed to the detokenizer so word-boundary spaces come out right. */
const CONTEXT_TOKENS = 8;

/**
 * Turns generated tokens into text incrementally. A multi-byte character (Chinese, emoji) may be
 * split across byte-level tokens; such partial tokens are held until the character is complete,
 * so no stream chunk carries a U+FFFD replacement character in the middle of a character.
 */
export class TokenTextDecoder {
  readonly #model: LlamaModel;
  #pending: Token[] = [];
  #recent: Token[] = [];

  constructor(model: LlamaModel) {
    this.#model = model;
  }

  /** Adds one token; returns the text it completes (possibly empty). */
  push(token: Token): string {
    this.#pending.push(token);
    const text = this.#model.detokenize(this.#pending, false, this.#recent);
    if (text.endsWith("\uFFFD") && this.#pending.length < MAX_PENDING) return "";
    this.#commit();
    return text;
  }

  /** Text of tokens still held at the end of generation. */
  flush(): string {
    if (this.#pending.length === 0) return "";
    const text = this.#model.detokenize(this.#pending, false, this.#recent);
    this.#commit();
    return text;
  }

  #commit(): void {
    this.#recent = this.#recent.concat(this.#pending).slice(-CONTEXT_TOKENS);
    this.#pending = [];
  }
}
