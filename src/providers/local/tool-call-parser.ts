import { randomId } from "../../core/ids.ts";

const HEADER = /^\s*\{\s*"name"\s*:\s*"((?:[^"\\]|\\.)*)"\s*,\s*"arguments"\s*:\s*/;
/** What may still turn out to be the envelope's closing brace rather than part of the arguments. */
const HELD_TAIL = /\s*\}?\s*$/;

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** One step of parsing a call envelope: a start once the name is known, then argument text. */
export type CallEvent = { type: "start"; id: string; name: string } | { type: "arguments"; text: string };

/**
 * Parses `{"name": "...", "arguments": {...}}` as it is generated, so a stream can send the call's
 * name first and then its arguments in pieces, exactly as OpenAI streams tool calls. The arguments
 * streamed are the model's own text; the last brace is held back until the envelope is complete.
 */
export class ToolCallParser {
  readonly id = `call_${randomId(24)}`;
  #text = "";
  #name: string | undefined;
  #argsStart = 0;
  #emitted = 0;

  get name(): string | undefined {
    return this.#name;
  }

  /** Adds generated text; returns the events it completes. */
  push(text: string): CallEvent[] {
    this.#text += text;
    const events: CallEvent[] = [];
    if (this.#name === undefined) {
      const header = HEADER.exec(this.#text);
      if (header === null) return events;
      this.#name = JSON.parse(`"${header[1]}"`) as string;
      this.#argsStart = header[0].length;
      events.push({ type: "start", id: this.id, name: this.#name });
    }
    const body = this.#text.slice(this.#argsStart);
    const safe = body.length - (HELD_TAIL.exec(body)?.[0].length ?? 0);
    if (safe > this.#emitted) {
      events.push({ type: "arguments", text: body.slice(this.#emitted, safe) });
      this.#emitted = safe;
    }
    return events;
  }

  /**
   * Ends the envelope: the rest of the arguments, without the envelope's closing brace. A call cut
   * short (`complete` false) may still have closed its envelope with its very last token: its brace
   * is dropped too when what precedes it is whole JSON.
   */
  finish(complete: boolean): { events: CallEvent[]; arguments: string } {
    const events: CallEvent[] = [];
    if (this.#name === undefined) return { events, arguments: "" };
    let body = this.#text.slice(this.#argsStart).trimEnd();
    if (body.endsWith("}") && (complete || isJson(body.slice(0, -1)))) body = body.slice(0, -1).trimEnd();
    if (body.length > this.#emitted) events.push({ type: "arguments", text: body.slice(this.#emitted) });
    this.#emitted = body.length;
    return { events, arguments: body };
  }
}
