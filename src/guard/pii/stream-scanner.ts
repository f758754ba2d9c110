/**
 * PII detection on a text that arrives in chunks (a streamed model answer), with exactly the findings
 * of a one-shot `detectPii` on the whole text, however it is split, and as little held back as that
 * allows.
 *
 * After each chunk, every detector says where the earliest candidate starts whose outcome could still
 * change with more text (`PiiDetector.pendingStart`); everything before the earliest such point, and
 * not inside a finding, is released at once, redacted or reported. What is held back is therefore:
 *
 * | detector     | held back                                                             | cap (chars) |
 * |--------------|-----------------------------------------------------------------------|-------------|
 * | email        | a trailing local-part run, maybe with `@` and a partial domain        | 256         |
 * | phone        | a trailing run of digits, spaces and `+().,-` that can start a number | 35          |
 * | payment_card | a trailing run of digits and separators                               | 25          |
 * | iban         | a trailing `CCdd…` run with its groups                                | 50          |
 * | us_ssn       | a trailing run of digits and separators                               | 13          |
 * | prc_id       | a trailing run of digits (and X) starting 1–8                         | 22          |
 * | ip_address   | a trailing run of hex digits, `:` and `.`                             | 56          |
 * | secret       | a key prefix still growing (`sk-pro`, `AKIA…`, `ghp_…`, `xoxb-…`, `AIza…`) | 260    |
 * |              | a base64 run of up to 40 characters after an AWS secret cue           | 40          |
 * |              | an open `-----BEGIN … PRIVATE KEY-----` without its END line          | 8,324       |
 *
 * Prose that ends in a space or punctuation holds back nothing; prose that ends mid-word holds back
 * that word (it could still become `word@example.com`). A rescan starts at the last cut with
 * `MAX_LOOKBACK` characters of released text before it, so the work per chunk is proportional to the
 * held-back text, not the whole stream.
 */
import { scanAll, resolveOverlaps } from "./detect.ts";
import type { PiiDetector } from "./detector.ts";
import { MAX_LOOKBACK, detectorsFor } from "./detectors.ts";
import { PlaceholderVault } from "./placeholder-vault.ts";
import type { PiiFinding, PiiType } from "./types.ts";

/** Options of {@link PiiStreamScanner}. */
export interface StreamScannerOptions {
  /** Types to detect; all when omitted. */
  types?: readonly PiiType[];
  /**
   * Which findings to replace by a placeholder in the emitted text (default: all). Findings not
   * redacted are emitted unchanged and only reported, for guardrails that block or flag.
   */
  redact?: boolean | ((finding: PiiFinding) => boolean);
  /** Placeholder numbering shared with the rest of the request; a fresh vault when omitted. */
  vault?: PlaceholderVault;
}

/** A finding of a stream: offsets count from the start of the whole stream (raw, unredacted text). */
export interface StreamFinding extends PiiFinding {
  /** The placeholder emitted instead of the value, when the finding was redacted. */
  placeholder?: string;
}

/** What a chunk releases: text safe to emit now, and the findings in it. */
export interface StreamScanResult {
  emit: string;
  findings: StreamFinding[];
}

/** Scans a chunked text for PII, releasing each part as soon as no finding can change in it. */
export class PiiStreamScanner {
  private readonly detectors: PiiDetector[];
  private readonly shouldRedact: (finding: PiiFinding) => boolean;
  /** The vault that numbers this stream's placeholders. */
  readonly vault: PlaceholderVault;
  /** The last `MAX_LOOKBACK` released characters (raw), for look-behind and cues. */
  private context = "";
  /** Raw text not released yet. */
  private buffer = "";
  /** Stream offset of `buffer[0]`. */
  private released = 0;
  private ended = false;

  constructor(options: StreamScannerOptions = {}) {
    this.detectors = detectorsFor(options.types);
    const redact = options.redact ?? true;
    this.shouldRedact = typeof redact === "function" ? redact : () => redact;
    this.vault = options.vault ?? new PlaceholderVault();
  }

  /** Adds a chunk; returns what can be emitted now. */
  push(chunk: string): StreamScanResult {
    if (this.ended) throw new Error("PiiStreamScanner: push after end");
    if (chunk === "") return { emit: "", findings: [] };
    this.buffer += chunk;
    return this.release(false);
  }

  /** Ends the stream: releases everything still held back. */
  end(): StreamScanResult {
    if (this.ended) return { emit: "", findings: [] };
    this.ended = true;
    return this.release(true);
  }

  /** Characters received but not yet released. */
  get heldBack(): number {
    return this.buffer.length;
  }

  /** Characters of the raw stream released so far. */
  get releasedLength(): number {
    return this.released;
  }

  private release(final: boolean): StreamScanResult {
    if (this.buffer === "") return { emit: "", findings: [] };
    const text = this.context + this.buffer;
    const base = this.context.length;
    let cut = text.length;
    if (!final) {
      for (const d of this.detectors) {
        cut = Math.min(cut, d.pendingStart(text));
        if (cut <= base) return { emit: "", findings: [] };
      }
    }
    // Only findings that start before the cut can be released now (they may end after it).
    const found = scanAll(this.detectors, text, base, cut);
    // Never cut through a candidate: a rescan from inside it would see different text.
    for (let moved = true; moved; ) {
      moved = false;
      for (const f of found) {
        if (f.start < cut && f.end > cut) {
          cut = f.start;
          moved = true;
        }
      }
    }
    if (cut <= base) return { emit: "", findings: [] };
    const shift = this.released - base;
    const findings: StreamFinding[] = [];
    let emit = "";
    let at = base;
    for (const f of resolveOverlaps(found.filter((x) => x.end <= cut))) {
      const finding: StreamFinding = { type: f.type, start: f.start + shift, end: f.end + shift, text: f.text };
      emit += text.slice(at, f.start);
      if (this.shouldRedact(finding)) {
        finding.placeholder = this.vault.placeholderFor(f.type, f.text);
        emit += finding.placeholder;
      } else {
        emit += f.text;
      }
      at = f.end;
      findings.push(finding);
    }
    emit += text.slice(at, cut);
    this.released += cut - base;
    this.context = text.slice(Math.max(0, cut - MAX_LOOKBACK), cut);
    this.buffer = text.slice(cut);
    return { emit, findings };
  }
}
