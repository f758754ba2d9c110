import type { LlamaModel, Token } from "node-llama-cpp";

/** GPT-2's byte ↔ printable-character table, used by BPE vocabularies to store raw bytes. */
function gpt2ByteDecoder(): Map<string, number> {
  const bytes: number[] = [];
  for (let b = 33; b <= 126; b++) bytes.push(b);
  for (let b = 161; b <= 172; b++) bytes.push(b);
  for (let b = 174; b <= 255; b++) bytes.push(b);
  const chars = [...bytes];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bytes.includes(b)) {
      bytes.push(b);
      chars.push(256 + n++);
    }
  }
  return new Map(bytes.map((b, i) => [String.fromCodePoint(chars[i] as number), b]));
}

/**
 * The raw UTF-8 bytes each token stands for, read from the GGUF vocabulary: SentencePiece pieces
 * (`▁` for a space, `<0xNN>` for a byte) and GPT-2 style BPE pieces. Logprobs report these, since a
 * token may hold only part of a multi-byte character.
 */
export class TokenBytes {
  readonly #model: LlamaModel;
  readonly #pieces: readonly string[] | undefined;
  readonly #kind: string | undefined;
  readonly #cache = new Map<Token, number[]>();
  #gpt2: Map<string, number> | undefined;

  constructor(model: LlamaModel) {
    this.#model = model;
    const ggml = model.fileInfo.metadata.tokenizer?.ggml as { model?: string; tokens?: readonly string[] } | undefined;
    this.#pieces = Array.isArray(ggml?.tokens) ? ggml.tokens : undefined;
    this.#kind = ggml?.model;
  }

  /** Number of tokens in the vocabulary. */
  get vocabularySize(): number {
    return this.#pieces?.length ?? 0;
  }

  bytes(token: Token): number[] {
    let cached = this.#cache.get(token);
    if (cached === undefined) {
      cached = this.#compute(token);
      if (this.#cache.size < 100_000) this.#cache.set(token, cached);
    }
    return cached;
  }

  /** The token's text, with bytes that do not form a whole character shown as U+FFFD. */
  text(token: Token): string {
    return Buffer.from(this.bytes(token)).toString("utf8");
  }

  #compute(token: Token): number[] {
    const piece = this.#pieces?.[token];
    if (piece === undefined || this.#model.isSpecialToken(token)) {
      return [...Buffer.from(this.#model.detokenize([token], true), "utf8")];
    }
    if (this.#kind === "llama") {
      const byte = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
      if (byte) return [parseInt(byte[1] as string, 16)];
      return [...Buffer.from(piece.replace(/\u2581/g, " "), "utf8")];
    }
    if (this.#kind === "gpt2") {
      this.#gpt2 ??= gpt2ByteDecoder();
      const out: number[] = [];
      for (const ch of piece) {
        const b = this.#gpt2.get(ch);
        if (b === undefined) return [...Buffer.from(this.#model.detokenize([token], false), "utf8")];
        out.push(b);
      }
      return out;
    }
    return [...Buffer.from(this.#model.detokenize([token], false), "utf8")];
  }
}
