import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import type { LlamaContextSequence, Token } from "node-llama-cpp";

/** Settings of the hot-prefix store. */
export interface PrefixStoreOptions {
  /** Directory for this model's state files (already specific to the model and context size). */
  dir: string;
  /** Prefixes shorter than this are not worth a state file. */
  minTokens: number;
  /** Prefix lengths are rounded down to a multiple of this, so prompts that share a system prompt share a key. */
  block: number;
  /** Disk budget; least recently used files go first. */
  maxBytes: number;
  /** How many requests must share a prefix before it is saved. */
  minHits: number;
}

interface Entry {
  length: number;
  file: string;
  bytes: number;
  lastUsed: number;
}

function hashTokens(tokens: readonly Token[], length: number): string {
  return createHash("sha256").update(new Uint8Array(Uint32Array.from(tokens.slice(0, length)).buffer)).digest("hex").slice(0, 32);
}

const FILE = /^([0-9a-f]{32})-(\d+)\.state$/;

/**
 * Keeps the KV state of frequently used long prompt prefixes (a long system prompt, say) in state
 * files, so a prefix survives its sequence being taken by another conversation, and a restart. Files
 * live in a directory keyed by the model file and context size, because loading a state made by
 * another model can crash the engine; the directory is bounded in bytes, least recently used first.
 */
export class PrefixStateStore {
  readonly #options: PrefixStoreOptions;
  readonly #entries = new Map<string, Entry>();
  readonly #seen = new Map<string, number>();
  #bytes = 0;

  constructor(options: PrefixStoreOptions) {
    this.#options = options;
    mkdirSync(options.dir, { recursive: true });
    for (const name of readdirSync(options.dir)) {
      const match = FILE.exec(name);
      const file = join(options.dir, name);
      if (!match) {
        // A state file that never finished writing, or anything else: not ours to keep.
        rmSync(file, { force: true });
        continue;
      }
      const stat = statSync(file);
      this.#entries.set(match[1] as string, { length: Number(match[2]), file, bytes: stat.size, lastUsed: stat.mtimeMs });
      this.#bytes += stat.size;
    }
    this.#evict();
  }

  /** The block-aligned prefix of a prompt that would be stored, or 0 when the prompt is too short. */
  candidateLength(tokens: readonly Token[]): number {
    const length = Math.floor((tokens.length - 1) / this.#options.block) * this.#options.block;
    return length >= this.#options.minTokens ? length : 0;
  }

  /** The longest stored prefix of this prompt, if any. */
  lookup(tokens: readonly Token[]): { key: string; length: number; file: string } | undefined {
    let best: { key: string; length: number; file: string } | undefined;
    const lengths = new Set([...this.#entries.values()].map((e) => e.length));
    for (const length of lengths) {
      if (length >= tokens.length || (best && best.length >= length)) continue;
      const key = hashTokens(tokens, length);
      const entry = this.#entries.get(key);
      if (entry?.length === length) best = { key, length, file: entry.file };
    }
    return best;
  }

  /** Loads a stored prefix into a sequence; false when the file is gone or unreadable. */
  async restore(sequence: LlamaContextSequence, hit: { key: string; file: string }): Promise<boolean> {
    const entry = this.#entries.get(hit.key);
    if (entry === undefined) return false;
    try {
      await sequence.loadStateFromFile(hit.file, { acceptRisk: true });
      entry.lastUsed = Date.now();
      return true;
    } catch {
      this.#remove(hit.key);
      await sequence.clearHistory().catch(() => undefined);
      return false;
    }
  }

  /** Counts a use of the prompt's prefix; true when it has become hot and is not stored yet. */
  noteUse(tokens: readonly Token[]): boolean {
    const length = this.candidateLength(tokens);
    if (length === 0) return false;
    const key = hashTokens(tokens, length);
    if (this.#entries.has(key)) return false;
    const hits = (this.#seen.get(key) ?? 0) + 1;
    this.#seen.delete(key);
    this.#seen.set(key, hits);
    if (this.#seen.size > 1024) this.#seen.delete(this.#seen.keys().next().value as string);
    return hits >= this.#options.minHits;
  }

  /**
   * Saves the prompt's prefix from a sequence that has just evaluated it: the state past the prefix
   * is erased first, so the file holds exactly the prefix.
   */
  async save(sequence: LlamaContextSequence, tokens: readonly Token[]): Promise<void> {
    const length = this.candidateLength(tokens);
    const key = hashTokens(tokens, length);
    if (length === 0 || this.#entries.has(key)) return;
    if (sequence.compareContextTokens(tokens.slice(0, length) as Token[]).firstDifferentIndex < length) return;
    if (sequence.nextTokenIndex > length) await sequence.eraseContextTokenRanges([{ start: length, end: sequence.nextTokenIndex }]);
    const file = join(this.#options.dir, `${key}-${length}.state`);
    const partial = `${file}.tmp`;
    const { fileSize } = await sequence.saveStateToFile(partial);
    renameSync(partial, file);
    this.#entries.set(key, { length, file, bytes: fileSize, lastUsed: Date.now() });
    this.#bytes += fileSize;
    this.#seen.delete(key);
    this.#evict();
  }

  /** Bytes of state files kept. */
  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  #remove(key: string): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    rmSync(entry.file, { force: true });
    this.#bytes -= entry.bytes;
    this.#entries.delete(key);
  }

  #evict(): void {
    while (this.#bytes > this.#options.maxBytes && this.#entries.size > 0) {
      let oldest: [string, Entry] | undefined;
      for (const item of this.#entries) if (oldest === undefined || item[1].lastUsed < oldest[1].lastUsed) oldest = item;
      if (oldest === undefined) break;
      this.#remove(oldest[0]);
    }
  }
}
