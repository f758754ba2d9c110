/**
 * Restoring placeholders in a streamed model answer: the model may echo `[EMAIL_1]` split over
 * several chunks, so a trailing `[` that could still become a placeholder is held back (at most 24
 * characters) until it completes or cannot.
 */
import type { PlaceholderVault } from "./placeholder-vault.ts";

/** Longest placeholder: `[PAYMENT_CARD_` and up to nine digits and `]`. */
const MAX_PLACEHOLDER = 24;
const PARTIAL = /^\[[A-Z_]*\d*$/;

/** Puts a vault's values back into a chunked text. */
export class PlaceholderRestoreStream {
  private held = "";
  private readonly vault: PlaceholderVault;

  constructor(vault: PlaceholderVault) {
    this.vault = vault;
  }

  /** Adds a chunk; returns the restored text that can be emitted now. */
  push(chunk: string): string {
    const text = this.held + chunk;
    const open = text.lastIndexOf("[");
    const cut = open >= 0 && text.length - open < MAX_PLACEHOLDER && PARTIAL.test(text.slice(open)) ? open : text.length;
    this.held = text.slice(cut);
    return this.vault.restore(text.slice(0, cut));
  }

  /** Ends the stream: returns whatever is still held back. */
  end(): string {
    const rest = this.held;
    this.held = "";
    return rest;
  }
}
