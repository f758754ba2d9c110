import type { GuardEvent } from "../../core/request-trail.ts";
import type { PlaceholderVault } from "../../guard/pii/placeholder-vault.ts";
import { PlaceholderRestoreStream } from "../../guard/pii/restore-stream.ts";
import { PiiStreamScanner } from "../../guard/pii/stream-scanner.ts";
import type { PatternSet } from "../../guard/rules/pattern-set.ts";
import { checkTexts, disjoint, replaceSpans, type Blocked, type CompiledCheck, type StageContext } from "./compiled-policy.ts";

/** What a stream check releases for one chunk: text that may go to the client now, and whether it blocked. */
export interface StreamStep {
  emit: string;
  blocked?: Blocked;
}

/** One output check over a streamed answer: text in, the part of it that is safe to release out. */
export interface StreamCheck {
  push(text: string): Promise<StreamStep>;
  end(): Promise<StreamStep>;
}

/** Records each (check, action, category) once per answer. */
class EventSink {
  readonly #seen = new Set<string>();
  readonly #events: GuardEvent[];
  constructor(events: GuardEvent[]) {
    this.#events = events;
  }
  add(check: CompiledCheck, action: GuardEvent["action"], category: string | null): Blocked | undefined {
    const key = `${check.name}\u0000${action}\u0000${category}`;
    if (!this.#seen.has(key)) {
      this.#seen.add(key);
      this.#events.push({ stage: "output", check: check.name, action, category });
    }
    return action === "block" ? { check: check.name, category } : undefined;
  }
}

/** PII in a stream: the scanner holds back only a tail that could still become an entity. */
class PiiStreamCheck implements StreamCheck {
  readonly #check: Extract<CompiledCheck, { type: "pii" }>;
  readonly #scanner: PiiStreamScanner;
  readonly #sink: EventSink;
  /** Raw characters released so far (the scanner's offsets count raw text). */
  #released = 0;

  constructor(check: Extract<CompiledCheck, { type: "pii" }>, vault: PlaceholderVault, sink: EventSink) {
    this.#check = check;
    this.#sink = sink;
    this.#scanner = new PiiStreamScanner({ types: check.entities, redact: check.action === "redact", vault });
  }

  #step(result: { emit: string; findings: readonly { type: string; start: number; end: number; placeholder?: string }[] }): StreamStep {
    let emit = result.emit;
    for (const f of result.findings) {
      const blocked = this.#sink.add(this.#check, this.#check.action, f.type);
      if (blocked !== undefined) {
        // Released text before the finding goes out; the finding and everything after it do not.
        return { emit: emit.slice(0, Math.max(0, f.start - this.#released)), blocked };
      }
    }
    if (this.#check.action !== "redact") this.#released += emit.length;
    else {
      // Redacted output is shorter or longer than the raw text: count raw characters from the findings.
      const rawLength = emit.length + result.findings.reduce((n, f) => n + (f.end - f.start) - (f.placeholder?.length ?? f.end - f.start), 0);
      this.#released += rawLength;
    }
    return { emit };
  }

  async push(text: string): Promise<StreamStep> {
    return this.#step(this.#scanner.push(text));
  }

  async end(): Promise<StreamStep> {
    return this.#step(this.#scanner.end());
  }
}

/**
 * Banned words and regexes in a stream: the last `hold` characters wait for the next chunk (a word
 * split across chunks, or one a longer word could still contain), and a match is never cut.
 */
class BannedStreamCheck implements StreamCheck {
  readonly #check: Extract<CompiledCheck, { type: "banned" }>;
  readonly #patterns: PatternSet;
  readonly #sink: EventSink;
  readonly #hold: number;
  #buffer = "";
  /** The last released characters, so word boundaries at the cut are seen. */
  #context = "";

  constructor(check: Extract<CompiledCheck, { type: "banned" }>, sink: EventSink) {
    this.#check = check;
    this.#patterns = check.patterns as PatternSet;
    this.#sink = sink;
    // Spaced-out letters (`k i l l`) double a word's length; regexes get a fixed window.
    const longest = Math.max(0, ...check.words.map((w) => w.length));
    this.#hold = check.regexes.length > 0 ? 256 : Math.min(256, longest * 2 + 8);
  }

  #release(text: string, upTo: number): StreamStep {
    const context = this.#context;
    const matches = disjoint(this.#patterns.find(context + text))
      .map((m) => ({ ...m, start: m.start - context.length, end: m.end - context.length }))
      .filter((m) => m.start >= 0);
    let cut = upTo;
    for (const m of matches) if (m.start < cut && m.end > cut) cut = m.start;
    const inside = matches.filter((m) => m.end <= cut);
    let emit = text.slice(0, cut);
    for (const m of inside) {
      const blocked = this.#sink.add(this.#check, this.#check.action, m.kind);
      if (blocked !== undefined) return { emit: text.slice(0, m.start), blocked };
    }
    if (this.#check.action === "redact") emit = replaceSpans(emit, inside, () => "[REDACTED]");
    this.#buffer = text.slice(cut);
    this.#context = (context + text.slice(0, cut)).slice(-64);
    return { emit };
  }

  async push(text: string): Promise<StreamStep> {
    const all = this.#buffer + text;
    return this.#release(all, Math.max(0, all.length - this.#hold));
  }

  async end(): Promise<StreamStep> {
    return this.#release(this.#buffer, this.#buffer.length);
  }
}

/**
 * A check that needs the whole answer (moderation, JSON only). To block, it must hold the answer
 * back until it has read all of it; to flag, the answer streams as it comes and is judged at the end.
 */
class WholeAnswerCheck implements StreamCheck {
  readonly #check: CompiledCheck;
  readonly #ctx: StageContext;
  readonly #sink: EventSink;
  #text = "";

  constructor(check: CompiledCheck, ctx: StageContext, sink: EventSink) {
    this.#check = check;
    this.#ctx = ctx;
    this.#sink = sink;
  }

  async push(text: string): Promise<StreamStep> {
    this.#text += text;
    return { emit: this.#check.action === "block" ? "" : text };
  }

  async end(): Promise<StreamStep> {
    const outcome = await checkTexts("output", [this.#check], [this.#text], this.#ctx);
    let blocked: Blocked | undefined;
    for (const e of outcome.events) blocked ??= this.#sink.add(this.#check, e.action, e.category);
    if (this.#check.action !== "block") return { emit: "" };
    return blocked === undefined ? { emit: this.#text } : { emit: "", blocked };
  }
}

/** Puts an input check's redacted values back into the answer (restore_output). */
class RestoreCheck implements StreamCheck {
  readonly #stream: PlaceholderRestoreStream;
  constructor(vault: PlaceholderVault) {
    this.#stream = new PlaceholderRestoreStream(vault);
  }
  async push(text: string): Promise<StreamStep> {
    return { emit: this.#stream.push(text) };
  }
  async end(): Promise<StreamStep> {
    return { emit: this.#stream.end() };
  }
}

/**
 * The output checks of one answer (one choice), chained in policy order: each sees what the one
 * before released. Starts by restoring redacted input values when the policy asks for it.
 */
export class OutputChain implements StreamCheck {
  readonly #checks: StreamCheck[];

  constructor(checks: readonly CompiledCheck[], restore: boolean, ctx: StageContext, events: GuardEvent[]) {
    const sink = new EventSink(events);
    // Input values come back first, so the output checks judge the answer the client will read (and an
    // output check's own placeholders are never mistaken for ones to restore).
    this.#checks = restore ? [new RestoreCheck(ctx.vault)] : [];
    for (const c of checks) {
      if (c.type === "pii") this.#checks.push(new PiiStreamCheck(c, ctx.vault, sink));
      else if (c.type === "banned") this.#checks.push(new BannedStreamCheck(c, sink));
      else this.#checks.push(new WholeAnswerCheck(c, ctx, sink));
    }
  }

  async push(text: string): Promise<StreamStep> {
    return this.#run(text, false);
  }

  async end(): Promise<StreamStep> {
    return this.#run("", true);
  }

  /**
   * Passes text through every check. Once one blocks, the checks after it still get (and flush) the
   * text it released, so what goes out has been through the whole chain; the chain is not used again.
   */
  async #run(text: string, ending: boolean): Promise<StreamStep> {
    let carry = text;
    let blocked: Blocked | undefined;
    for (const check of this.#checks) {
      const step = await check.push(carry);
      if (step.blocked !== undefined && blocked === undefined) {
        blocked = step.blocked;
        carry = step.emit;
        continue;
      }
      let emit = step.emit;
      if (ending || blocked !== undefined) {
        const last = await check.end();
        emit += last.emit;
        blocked ??= last.blocked;
      }
      carry = emit;
    }
    return blocked === undefined ? { emit: carry } : { emit: carry, blocked };
  }
}
