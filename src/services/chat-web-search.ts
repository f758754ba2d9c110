import type { SpokenPart } from "../core/audio.ts";
import { emptyUsage, type ChatMessage, type ChatRequest, type ChatStreamPart } from "../core/chat.ts";
import type { ChatUrlCitation, CitationsPart } from "../protocol/openai/chat-completions-render.ts";
import type { NumberedSource } from "../protocol/openai/responses-stream.ts";
import type { WebSearchSettings } from "../protocol/openai/responses-types.ts";
import type { Principal } from "./access.ts";
import type { UsageMeter } from "./usage-meter.ts";
import type { WebSearchTool } from "./web-search-tool.ts";

/** The most of the latest user message sent to the engine as the query. */
const MAX_QUERY_CHARS = 400;

/** A chat request with the web's evidence in it, and the sources the answer may cite. */
export interface GroundedRequest {
  request: ChatRequest;
  sources: readonly NumberedSource[];
}

/** The text of the latest user message, as one line, cut at a word within `MAX_QUERY_CHARS`. */
export function latestUserText(messages: readonly ChatMessage[]): string {
  const user = messages.findLast((m) => m.role === "user");
  const text = (user?.content ?? "").replace(/\s+/g, " ").trim();
  if (text.length <= MAX_QUERY_CHARS) return text;
  const cut = text.slice(0, MAX_QUERY_CHARS);
  const space = cut.lastIndexOf(" ");
  return space > MAX_QUERY_CHARS / 2 ? cut.slice(0, space) : cut;
}

/** A `url_citation` for each `[n]` marker in `text` that names one of `sources`, in order. */
export function citeSources(text: string, sources: readonly NumberedSource[]): ChatUrlCitation[] {
  if (sources.length === 0) return [];
  const byNumber = new Map(sources.map((s) => [s.n, s]));
  const citations: ChatUrlCitation[] = [];
  for (const match of text.matchAll(/\[(\d{1,3})\]/g)) {
    const source = byNumber.get(Number(match[1]));
    if (source !== undefined) citations.push({ url: source.url, title: source.title, startIndex: match.index, endIndex: match.index + match[0].length });
  }
  return citations;
}

/**
 * A stream's parts with each choice's citations (its `[n]` markers found in its whole text) as an
 * `annotations` part just before the choice's finish. Closing it closes `rest`.
 */
export async function* withCitations(
  first: IteratorResult<ChatStreamPart | SpokenPart>,
  rest: AsyncIterator<ChatStreamPart | SpokenPart>,
  sources: readonly NumberedSource[],
): AsyncGenerator<ChatStreamPart | SpokenPart | CitationsPart> {
  const texts: string[] = [];
  try {
    for (let step = first; !step.done; step = await rest.next()) {
      const part = step.value;
      if (part.type === "text-delta") texts[part.choice] = (texts[part.choice] ?? "") + part.text;
      if (part.type === "finish") {
        const annotations = citeSources(texts[part.choice] ?? "", sources);
        if (annotations.length > 0) yield { type: "annotations", choice: part.choice, annotations };
      }
      yield part;
    }
  } finally {
    await rest.return?.(undefined);
  }
}

/**
 * `web_search_options` in Chat Completions, as OpenAI's search models do it, for any model: before
 * the model runs, the web is searched for the latest user message through the `web_search` tool's
 * engine, fetch policy and context budget, and the numbered evidence goes in a system message after
 * the request's own system and developer messages. Each search is metered as one priced call.
 */
export class ChatWebSearch {
  readonly #tool: WebSearchTool;
  readonly #meter: UsageMeter;

  constructor(tool: WebSearchTool, meter: UsageMeter) {
    this.#tool = tool;
    this.#meter = meter;
  }

  /**
   * Searches and gives the model what was found. A failed search is told to the model, which then
   * answers without sources; a request with no user text to search for is left as it is.
   */
  async ground(request: ChatRequest, settings: WebSearchSettings, principal: Principal, contextTokens: number | undefined, signal: AbortSignal): Promise<GroundedRequest> {
    const query = latestUserText(request.messages);
    if (query === "") return { request, sources: [] };
    const started = performance.now();
    const ran = await this.#tool.run(query, settings, contextTokens, { n: 1 }, signal);
    const pricing = { input: this.#tool.pricePerCall * 1_000_000, cachedInput: 0, output: 0 };
    this.#meter.record({ principal, model: "web-search", endpoint: "/v1/chat/completions/web_search", usage: { ...emptyUsage(), promptTokens: 1 }, latencyMs: performance.now() - started, status: ran.detail.failed ? 502 : 200, batch: false, pricing });
    const sources = ran.detail.numbered;
    const text = ran.detail.failed
      ? `${ran.forModel} Tell the user that the web could not be searched, and answer from what you know.`
      : sources.length === 0
        ? `${ran.forModel} Answer from what you know.`
        : `The web was searched for the user's latest message. Answer with these results, and cite each source you use as [n], its number in square brackets, right after what it supports.\n\n${ran.forModel}`;
    const at = request.messages.findIndex((m) => m.role !== "system");
    const split = at === -1 ? request.messages.length : at;
    const messages: ChatMessage[] = [...request.messages.slice(0, split), { role: "system", content: text }, ...request.messages.slice(split)];
    return { request: { ...request, messages }, sources };
  }
}
