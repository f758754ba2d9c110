import type { ToolDefinition } from "../core/chat.ts";
import { invalidRequest } from "../core/errors.ts";
import { toGrammarSchema } from "../protocol/openai/json-schema-subset.ts";
import type { NumberedSource } from "../protocol/openai/responses-stream.ts";
import type { WebSearchSettings } from "../protocol/openai/responses-types.ts";
import { extractText } from "../retrieval/extract-text.ts";
import { FetchRefused, safeFetch, type FetchPolicy } from "../providers/web/safe-fetch.ts";
import { onDomains, searchBackend, type SearchBackend, type SearchBackendConfig, type SearchResultItem } from "../providers/web/search-backends.ts";

/** The web search tool's configuration (config `webSearch`). */
export interface WebSearchConfig {
  /** The engine, or undefined when none is configured (the tool is then refused). */
  backend: SearchBackendConfig | undefined;
  policy: FetchPolicy;
  /** Results asked of the engine per search. */
  maxResults: number;
  /** USD per search call, as OpenAI prices its web search tool. */
  pricePerCallUsd: number;
}

/** What the response shows of one search. */
export interface WebSearchDetail {
  query: string;
  /** Every result the engine gave (`action.sources`). */
  sources: { url: string; title: string }[];
  /** The pages the model was given, numbered for `[n]` citations. */
  numbered: NumberedSource[];
  /** The pages that were fetched and read (after redirects), each an `open_page` action. */
  opened: string[];
  failed: boolean;
}

const WEB_SEARCH_PARAMETERS = { type: "object", properties: { query: { type: "string", description: "What to search the web for." } }, required: ["query"], additionalProperties: false };

/** The function the model is given to search the web. */
export const WEB_SEARCH_FUNCTION: ToolDefinition = {
  name: "web_search",
  description: "Searches the web and reads the top pages. Returns numbered sources; cite them in the answer as [n].",
  parameters: toGrammarSchema(WEB_SEARCH_PARAMETERS, "tools", true, "function 'web_search'"),
  wireParameters: WEB_SEARCH_PARAMETERS,
  strict: true,
};

/** Pages opened per search, and the share of the model's context the evidence may take, by `search_context_size`. */
const CONTEXT = { low: { pages: 2, share: 0.15 }, medium: { pages: 3, share: 0.3 }, high: { pages: 5, share: 0.5 } } as const;
/** Tokens of evidence for a model whose context size is not known here (upstreams). */
const UNKNOWN_CONTEXT_TOKENS = 16_000;
/** Characters per token, roughly, for English web text. */
const CHARS_PER_TOKEN = 3.5;

/** The query the model asked for: `{"query": …}`, or the arguments themselves when they are not that JSON. */
export function searchQuery(args: string): string {
  try {
    const parsed = JSON.parse(args) as { query?: unknown };
    if (typeof parsed.query === "string") return parsed.query.trim();
  } catch {
    // Bare text: search for it as written.
  }
  return args.trim();
}

function titleOf(html: string): string {
  const match = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(html);
  return (match?.[1] ?? "").replace(/\s+/g, " ").replace(/&amp;/g, "&").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&#39;/g, "'").trim();
}

/**
 * The built-in `web_search` tool for any chat model: the model is given a `web_search` function; each
 * call asks the configured engine, fetches and extracts the top pages under the safe-fetch policy
 * (public addresses only, limits on size, time and redirects), and gives the model numbered evidence
 * within its context budget. The tool loop (tool-loop.ts) gives it back to the model.
 */
export class WebSearchTool {
  readonly #config: WebSearchConfig;
  readonly #backend: SearchBackend | undefined;

  constructor(config: WebSearchConfig) {
    this.#config = config;
    this.#backend = config.backend === undefined ? undefined : searchBackend(config.backend, config.policy);
  }

  /** USD per search call. */
  get pricePerCall(): number {
    return this.#config.pricePerCallUsd;
  }

  /** A 400 naming the tool when no search engine is configured. */
  check(settings: WebSearchSettings): void {
    if (this.#backend === undefined) {
      throw invalidRequest("The 'web_search' tool is not available: this server has no search engine configured (webSearch.backend).", `${settings.param}.type`, "unsupported_parameter");
    }
  }

  /**
   * One search: the engine's results, the top pages read (a page that cannot be fetched is given
   * by its snippet), numbered from `next.n` on. Failures of the engine are told to the model, not thrown.
   */
  async run(query: string, settings: WebSearchSettings, contextTokens: number | undefined, next: { n: number }, signal: AbortSignal): Promise<{ forModel: string; detail: WebSearchDetail }> {
    const backend = this.#backend;
    if (backend === undefined) throw new Error("web search used without a backend");
    let results: SearchResultItem[];
    try {
      results = await backend.search({ query, count: this.#config.maxResults, allowedDomains: settings.allowedDomains, country: settings.country, signal });
    } catch (error) {
      signal.throwIfAborted();
      const why = error instanceof FetchRefused ? error.message : "the search engine could not be reached";
      return { forModel: `The web search for "${query}" failed: ${why}.`, detail: { query, sources: [], numbered: [], opened: [], failed: true } };
    }
    const size = CONTEXT[settings.contextSize];
    const budget = Math.floor((contextTokens === undefined ? UNKNOWN_CONTEXT_TOKENS : contextTokens * size.share) * CHARS_PER_TOKEN);
    const opened = results.slice(0, size.pages);
    const perPage = Math.max(200, Math.floor(budget / Math.max(1, opened.length)));
    const pages = await Promise.all(opened.map((r) => this.#read(r, settings, signal)));
    const numbered: NumberedSource[] = [];
    const blocks: string[] = [];
    pages.forEach((page, i) => {
      const result = opened[i] as SearchResultItem;
      const n = next.n++;
      const title = page.title || result.title || result.url;
      numbered.push({ n, url: page.url, title });
      const text = (page.text || result.snippet).replace(/\s+\n/g, "\n").trim();
      blocks.push(`[${n}] ${title} (${page.url})\n${text.length > perPage ? `${text.slice(0, perPage)}…` : text}`);
    });
    const place = settings.location === undefined ? "" : ` The user is in ${settings.location}.`;
    const forModel = blocks.length === 0 ? `The web search for "${query}" found nothing.` : `Web search results for "${query}".${place} Cite sources as [n].\n\n${blocks.join("\n\n")}`;
    const read = pages.filter((p) => p.text !== "").map((p) => p.url);
    return { forModel, detail: { query, sources: results.map((r) => ({ url: r.url, title: r.title })), numbered, opened: read, failed: false } };
  }

  /** A result's page as text, or nothing when it cannot be fetched safely (its snippet stands in). */
  async #read(result: SearchResultItem, settings: WebSearchSettings, signal: AbortSignal): Promise<{ url: string; title: string; text: string }> {
    try {
      const page = await safeFetch(result.url, this.#config.policy, { signal, accept: ["text/html", "application/xhtml+xml", "text/plain"], headers: { accept: "text/html, text/plain;q=0.9" } });
      // A redirect off the allowed domains is not read.
      if (page.status >= 400 || !onDomains(page.url, settings.allowedDomains)) return { url: result.url, title: "", text: "" };
      const html = page.contentType !== "text/plain";
      const text = await extractText(page.body, html ? "page.html" : "page.txt").catch(() => "");
      return { url: page.url, title: html ? titleOf(page.body.toString("utf8")) : "", text };
    } catch {
      signal.throwIfAborted();
      return { url: result.url, title: "", text: "" };
    }
  }
}
