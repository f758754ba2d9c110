import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { countTokens } from "gpt-tokenizer";
import type { ChatRequest, ChatStreamPart, Usage } from "../../src/core/chat.ts";
import { ApiError } from "../../src/core/errors.ts";
import { createLogger } from "../../src/logging/logger.ts";
import { parseResponsesRequest } from "../../src/protocol/openai/responses-parse.ts";
import { parseInputItems } from "../../src/protocol/openai/responses-parse-input.ts";
import { fileCitations, fileSearchResult } from "../../src/protocol/openai/responses-render.ts";
import { ResponseStreamBuilder, type ResponseStreamEvent } from "../../src/protocol/openai/responses-stream.ts";
import { itemsToChatMessages } from "../../src/protocol/openai/responses-to-chat.ts";
import type { FileCitation, RequestInputItem } from "../../src/protocol/openai/responses-types.ts";
import type { SearchHit, SearchRequest, SearchResult, VectorSearch } from "../../src/retrieval/types.ts";
import { ChatService } from "../../src/services/chat-service.ts";
import { FILE_SEARCH_CONTEXT_HEADER, fileSearchQuery, packFileSearchContext } from "../../src/services/file-search-tool.ts";
import { ModelRegistry } from "../../src/services/model-registry.ts";
import { ResponsesService } from "../../src/services/responses-service.ts";
import type { UsageMeter } from "../../src/services/usage-meter.ts";
import type { ObjectStore } from "../../src/storage/object-store.ts";
import { ChatOnlyModel } from "../helpers/chat-only-model.ts";
import { assertSchema } from "../helpers/openapi.ts";
import { checkEvents } from "../helpers/response-events.ts";

const base = { model: "m", input: "Who is Lily?" };
const tool = { type: "file_search", vector_store_ids: ["vs_1"] };
const weather = { type: "function", name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } };

function rejects(body: Record<string, unknown>, param: string, code?: string): void {
  assert.throws(
    () => parseResponsesRequest(body),
    (e: unknown) => {
      assert.ok(e instanceof ApiError, `expected an ApiError, got ${String(e)}`);
      assert.equal(e.status, 400);
      assert.equal(e.param, param, e.message);
      if (code !== undefined) assert.equal(e.code, code, e.message);
      return true;
    },
  );
}

const hit = (fileId: string, text: string, score = 0.9, filename = `${fileId}.txt`): SearchHit => ({
  fileId,
  filename,
  score,
  attributes: { lang: "en" },
  text,
  vectorStoreId: "vs_1",
});


const usage: ChatStreamPart = { type: "usage", usage: { promptTokens: 30, completionTokens: 3, cachedTokens: 0, reasoningTokens: 0 } };

function searched(builder: ResponseStreamBuilder, hits: readonly SearchHit[], fed: readonly SearchHit[], parts: readonly ChatStreamPart[]): ResponseStreamEvent[] {
  return [
    ...builder.start(),
    ...builder.startFileSearch(),
    ...builder.finishFileSearch(["lily"], hits.map(fileSearchResult), fileCitations(fed)),
    ...parts.flatMap((p) => builder.push(p)),
    ...builder.end(),
  ];
}

describe("file_search tool parsing", () => {
  test("a minimal tool gets OpenAI's defaults, echoed in the response, and runs under 'auto'", () => {
    const req = parseResponsesRequest({ ...base, tools: [tool] });
    assert.deepEqual(req.fileSearch, { param: "tools[0]", vectorStoreIds: ["vs_1"], maxNumResults: 10, filter: undefined, scoreThreshold: 0, weights: { embedding: 1, text: 1 } });
    assert.deepEqual(req.echo.tools, [{ type: "file_search", vector_store_ids: ["vs_1"], max_num_results: 10, filters: null, ranking_options: { ranker: "auto", score_threshold: 0 } }]);
    assert.equal(req.toolChoice, "none", "no functions: the model itself calls nothing");
    assert.deepEqual(req.tools, []);
    for (const wire of req.echo.tools) assertSchema("Tool", wire);
  });

  test("takes every option of FileSearchTool", () => {
    const filters = { type: "and", filters: [{ type: "eq", key: "lang", value: "en" }, { type: "in", key: "year", value: [2023, 2024] }] };
    const req = parseResponsesRequest({
      ...base,
      tools: [weather, { ...tool, vector_store_ids: ["vs_1", "vs_2"], max_num_results: 3, filters, ranking_options: { ranker: "default-2024-11-15", score_threshold: 0.25, hybrid_search: { embedding_weight: 2, text_weight: 0.5 } } }],
    });
    assert.deepEqual(req.fileSearch, { param: "tools[1]", vectorStoreIds: ["vs_1", "vs_2"], maxNumResults: 3, filter: filters, scoreThreshold: 0.25, weights: { embedding: 2, text: 0.5 } });
    const wire = req.echo.tools[1];
    assert.deepEqual(wire, {
      type: "file_search",
      vector_store_ids: ["vs_1", "vs_2"],
      max_num_results: 3,
      filters,
      ranking_options: { ranker: "default-2024-11-15", score_threshold: 0.25, hybrid_search: { embedding_weight: 2, text_weight: 0.5 } },
    });
    assertSchema("Tool", wire);
    assert.deepEqual(req.tools.map((t) => t.name), ["get_weather"]);
    assert.equal(req.toolChoice, "auto");
    const nulls = parseResponsesRequest({ ...base, tools: [{ ...tool, filters: null, max_num_results: null, ranking_options: null }] });
    assert.equal(nulls.fileSearch?.maxNumResults, 10);
  });

  test("rejects bad tools with 400s naming the param", () => {
    rejects({ ...base, tools: [{ type: "file_search" }] }, "tools[0].vector_store_ids", "missing_required_parameter");
    rejects({ ...base, tools: [{ ...tool, vector_store_ids: [] }] }, "tools[0].vector_store_ids", "empty_array");
    rejects({ ...base, tools: [{ ...tool, vector_store_ids: "vs_1" }] }, "tools[0].vector_store_ids", "invalid_type");
    rejects({ ...base, tools: [{ ...tool, vector_store_ids: ["vs_1", 2] }] }, "tools[0].vector_store_ids[1]", "invalid_type");
    rejects({ ...base, tools: [{ ...tool, vector_store_ids: [""] }] }, "tools[0].vector_store_ids[0]", "empty_string");
    rejects({ ...base, tools: [{ ...tool, max_num_results: 0 }] }, "tools[0].max_num_results", "integer_below_min_value");
    rejects({ ...base, tools: [{ ...tool, max_num_results: 51 }] }, "tools[0].max_num_results", "integer_above_max_value");
    rejects({ ...base, tools: [{ ...tool, max_num_results: 2.5 }] }, "tools[0].max_num_results", "invalid_type");
    rejects({ ...base, tools: [{ ...tool, filters: { type: "like", key: "a", value: "b" } }] }, "tools[0].filters.type", "invalid_value");
    rejects({ ...base, tools: [{ ...tool, filters: { type: "or", filters: [{ type: "eq", key: "a" }] } }] }, "tools[0].filters.filters[0].value", "missing_required_parameter");
    rejects({ ...base, tools: [{ ...tool, filters: { type: "eq", key: "a", value: [1] } }] }, "tools[0].filters.value", "invalid_value");
    rejects({ ...base, tools: [{ ...tool, ranking_options: { ranker: "none" } }] }, "tools[0].ranking_options.ranker", "invalid_value");
    rejects({ ...base, tools: [{ ...tool, ranking_options: { score_threshold: 1.5 } }] }, "tools[0].ranking_options.score_threshold", "decimal_above_max_value");
    rejects({ ...base, tools: [{ ...tool, ranking_options: { score_threshold: -0.1 } }] }, "tools[0].ranking_options.score_threshold", "decimal_below_min_value");
    rejects({ ...base, tools: [{ ...tool, ranking_options: { hybrid_search: { embedding_weight: 1 } } }] }, "tools[0].ranking_options.hybrid_search.text_weight", "missing_required_parameter");
    rejects({ ...base, tools: [{ ...tool, ranking_options: { hybrid_search: { embedding_weight: -1, text_weight: 1 } } }] }, "tools[0].ranking_options.hybrid_search.embedding_weight", "decimal_below_min_value");
    rejects({ ...base, tools: [{ ...tool, ranking_options: { hybrid_search: { embedding_weight: 0, text_weight: 0 } } }] }, "tools[0].ranking_options.hybrid_search.embedding_weight", "invalid_value");
    rejects({ ...base, tools: [{ ...tool, ranking_options: { rewrite: true } }] }, "tools[0].ranking_options.rewrite", "unknown_parameter");
    rejects({ ...base, tools: [{ ...tool, bogus: 1 }] }, "tools[0].bogus", "unknown_parameter");
    rejects({ ...base, tools: [tool, { ...tool, vector_store_ids: ["vs_2"] }] }, "tools[1].type", "invalid_value");
    rejects({ ...base, tools: [tool, { type: "computer_use_preview" }] }, "tools[1].type", "unsupported_parameter");
    rejects({ ...base, tools: [{ type: "code_interpreter" }] }, "tools[0].container", "missing_required_parameter");
    rejects({ ...base, tools: [{ type: "code_interpreter", container: { type: "auto", network_policy: { type: "allowlist" } } }] }, "tools[0].container.network_policy", "unsupported_parameter");
  });

  test("tool_choice decides whether the search runs", () => {
    const runs = (body: Record<string, unknown>) => parseResponsesRequest({ ...base, ...body }).fileSearch !== undefined;
    assert.equal(runs({ tools: [tool] }), true, "auto is the default");
    assert.equal(runs({ tools: [tool], tool_choice: "auto" }), true);
    assert.equal(runs({ tools: [tool], tool_choice: "none" }), false);
    assert.equal(runs({ tools: [tool], tool_choice: "required" }), true);
    assert.equal(runs({ tools: [tool], tool_choice: { type: "file_search" } }), true);
    assert.equal(runs({ tools: [tool, weather], tool_choice: { type: "function", name: "get_weather" } }), false, "a forced function is what runs");
    assert.equal(runs({ tools: [tool], max_tool_calls: 0 }), false, "no built-in tool calls allowed");
    assert.equal(runs({ tools: [tool], max_tool_calls: 1 }), true);
    assert.equal(runs({ tools: [tool, weather], tool_choice: { type: "allowed_tools", mode: "auto", tools: [{ type: "function", name: "get_weather" }] } }), false);
    assert.equal(runs({ tools: [tool, weather], tool_choice: { type: "allowed_tools", mode: "required", tools: [{ type: "file_search" }] } }), true);

    const forced = parseResponsesRequest({ ...base, tools: [tool, weather], tool_choice: { type: "file_search" } });
    assert.deepEqual(forced.echo.toolChoice, { type: "file_search" });
    assert.equal(forced.toolChoice, "auto", "after the forced search the model may answer or call a function");
    const required = parseResponsesRequest({ ...base, tools: [tool, weather], tool_choice: "required" });
    assert.equal(required.toolChoice, "auto", "the search is the tool call 'required' asks for");
    assert.equal(parseResponsesRequest({ ...base, tools: [tool], tool_choice: "required" }).toolChoice, "none");
    const allowed = parseResponsesRequest({ ...base, tools: [tool, weather], tool_choice: { type: "allowed_tools", mode: "required", tools: [{ type: "file_search" }] } });
    assert.deepEqual(allowed.tools, [], "functions left out of allowed_tools are not offered");
    assert.deepEqual(allowed.echo.toolChoice, { type: "allowed_tools", mode: "required", tools: [{ type: "file_search" }] });
    assertSchema("ToolChoiceParam", forced.echo.toolChoice);
    assertSchema("ToolChoiceParam", allowed.echo.toolChoice);

    rejects({ ...base, tool_choice: { type: "file_search" } }, "tool_choice.type", "invalid_value");
    rejects({ ...base, tools: [weather], tool_choice: { type: "allowed_tools", mode: "auto", tools: [{ type: "file_search" }] } }, "tool_choice.tools[0].type", "invalid_value");
    rejects({ ...base, tools: [tool], tool_choice: { type: "file_search", vector_store_ids: [] } }, "tool_choice.vector_store_ids", "unknown_parameter");
    rejects({ ...base, tools: [tool], tool_choice: { type: "computer_use_preview" } }, "tool_choice.type", "unsupported_parameter");
  });

  test("a file_search_call item may be sent back as input; it is kept but not given to the model", () => {
    const call = { type: "file_search_call", id: "fs_1", status: "completed", queries: ["lily"], results: [{ file_id: "file-1", filename: "a.txt", text: "Lily", score: 0.5, attributes: { lang: "en" } }] };
    const req = parseResponsesRequest({ model: "m", input: [{ role: "user", content: "Who?" }, call, { role: "assistant", content: "Lily." }, { role: "user", content: "More" }] });
    assert.deepEqual(req.input[1], call);
    assert.deepEqual(parseResponsesRequest({ model: "m", input: [{ ...call, results: null }] }).input[0], { ...call, results: null });
    const messages = itemsToChatMessages(undefined, req.input);
    assert.deepEqual(messages.map((m) => m.role), ["user", "assistant", "user"]);
    rejects({ model: "m", input: [{ ...call, id: undefined }] }, "input[0].id", "missing_required_parameter");
    rejects({ model: "m", input: [{ ...call, status: "done" }] }, "input[0].status", "invalid_value");
    rejects({ model: "m", input: [{ ...call, queries: [1] }] }, "input[0].queries[0]", "invalid_type");
    rejects({ model: "m", input: [{ ...call, results: [{ file_id: "f", extra: 1 }] }] }, "input[0].results[0].extra", "unknown_parameter");
    assert.throws(() => parseInputItems([call], "items"), (e: unknown) => e instanceof ApiError && e.param === "items[0].type" && e.code === "unsupported_parameter");
  });
});

describe("file_search query and context", () => {
  const user = (text: string): RequestInputItem => ({ type: "message", role: "user", content: [{ type: "input_text", text }] });
  test("the query is the latest user message with text, else all the input's text", () => {
    assert.equal(fileSearchQuery([user("first"), { type: "message", role: "assistant", content: [{ type: "output_text", text: "ok", annotations: [], logprobs: [] }] }, user(" second ")]), "second");
    assert.equal(fileSearchQuery([user("first"), user("")]), "first");
    assert.equal(fileSearchQuery([{ type: "message", role: "developer", content: [{ type: "input_text", text: "dev" }] }, { type: "function_call_output", call_id: "c", output: "out" }]), "dev\nout");
    assert.equal(fileSearchQuery([]), "");
  });

  test("packs hits best first as '[n] filename:' entries within a token budget, cutting the last one", () => {
    const hits = [hit("file-a", "Lily had a red ball. ".repeat(5)), hit("file-b", "Tom liked the park. ".repeat(40)), hit("file-c", "Never reached.")];
    const all = packFileSearchContext(hits, 10_000, countTokens);
    assert.equal(all.fed.length, 3);
    assert.ok(all.text.startsWith(FILE_SEARCH_CONTEXT_HEADER));
    assert.match(all.text, /\n\n\[1\] file-a\.txt:\nLily had a red ball\./);
    assert.match(all.text, /\n\n\[3\] file-c\.txt:\nNever reached\.$/);

    const some = packFileSearchContext(hits, 120, countTokens);
    assert.deepEqual(some.fed.map((h) => h.fileId), ["file-a", "file-b"]);
    assert.ok(countTokens(some.text) <= 120, `${countTokens(some.text)} tokens`);
    assert.ok(some.text.endsWith("…"), "the hit that does not fit whole is cut");
    assert.doesNotMatch(some.text, /file-c/);

    assert.deepEqual(packFileSearchContext(hits, 10, countTokens), { text: "", fed: [] }, "no room: nothing is given");
  });

  test("cites each file once, in the order its hits were given", () => {
    const fed = [hit("file-a", "x"), hit("file-b", "y"), hit("file-a", "z")];
    assert.deepEqual(fileCitations(fed), [
      { type: "file_citation", file_id: "file-a", filename: "file-a.txt", index: 0 },
      { type: "file_citation", file_id: "file-b", filename: "file-b.txt", index: 0 },
    ]);
    assert.deepEqual(fileSearchResult(hit("file-a", "x", 0.5)), { file_id: "file-a", filename: "file-a.txt", text: "x", score: 0.5, attributes: { lang: "en" } });
  });
});

describe("file_search rendering", () => {
  test("streams the search call, then the message with its citations, every event valid", () => {
    const req = parseResponsesRequest({ ...base, stream: true, tools: [tool], include: ["file_search_call.results"] });
    const builder = new ResponseStreamBuilder({ request: req });
    const hits = [hit("file-a", "Lily had a red ball."), hit("file-b", "Tom."), hit("file-a", "More Lily.")];
    const events = searched(builder, hits, hits, [
      { type: "text-delta", choice: 0, text: "Lily " },
      { type: "text-delta", choice: 0, text: "plays." },
      { type: "finish", choice: 0, finishReason: "stop" },
      usage,
    ]);
    checkEvents(events);
    assert.deepEqual(events.map((e) => e.type), [
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.file_search_call.in_progress",
      "response.file_search_call.searching",
      "response.file_search_call.completed",
      "response.output_item.done",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.delta",
      "response.output_text.annotation.added",
      "response.output_text.annotation.added",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed",
    ]);
    const added = events[2];
    assert.ok(added?.type === "response.output_item.added" && added.item.type === "file_search_call");
    assert.equal(added.item.status, "in_progress");
    assert.deepEqual(added.item.queries, []);
    assert.ok(added.item.id.startsWith("fs_"));
    const done = events[6];
    assert.ok(done?.type === "response.output_item.done" && done.item.type === "file_search_call");
    assert.equal(done.item.status, "completed");
    assert.deepEqual(done.item.queries, ["lily"]);
    assert.equal(done.item.results?.length, 3);
    const annotation = events[11];
    assert.ok(annotation?.type === "response.output_text.annotation.added");
    assert.deepEqual(annotation.annotation, { type: "file_citation", file_id: "file-a", filename: "file-a.txt", index: "Lily plays.".length });
    assert.equal(annotation.annotation_index, 0);
    assert.equal(annotation.output_index, 1);
    const partDone = events[14];
    assert.ok(partDone?.type === "response.content_part.done");
    assert.equal(partDone.part.annotations.length, 2);

    const final = builder.response;
    assertSchema("Response", final);
    assert.equal(final.output.length, 2);
    const [call, message] = final.output;
    assert.ok(call?.type === "file_search_call");
    assert.deepEqual(call.results?.[0], { file_id: "file-a", filename: "file-a.txt", text: "Lily had a red ball.", score: 0.9, attributes: { lang: "en" } });
    assert.ok(message?.type === "message");
    assert.deepEqual(message.content[0]?.annotations, [
      { type: "file_citation", file_id: "file-a", filename: "file-a.txt", index: 11 },
      { type: "file_citation", file_id: "file-b", filename: "file-b.txt", index: 11 },
    ]);
    assert.deepEqual(final.tools, [{ type: "file_search", vector_store_ids: ["vs_1"], max_num_results: 10, filters: null, ranking_options: { ranker: "auto", score_threshold: 0 } }]);
    assert.deepEqual(builder.output, final.output);
  });

  test("results are null unless include asks for them; only the hits given to the model are cited", () => {
    const builder = new ResponseStreamBuilder({ request: parseResponsesRequest({ ...base, tools: [tool] }) });
    const hits = [hit("file-a", "x"), hit("file-b", "y")];
    checkEvents(searched(builder, hits, hits.slice(0, 1), [{ type: "text-delta", choice: 0, text: "ok" }, usage]));
    const final = builder.response;
    assertSchema("Response", final);
    const [call, message] = final.output;
    assert.ok(call?.type === "file_search_call" && message?.type === "message");
    assert.equal(call.results, null);
    assert.deepEqual(message.content[0]?.annotations.map((a) => (a as FileCitation).file_id), ["file-a"]);
  });

  test("no hits: results [] and no annotations; an empty answer still carries the message", () => {
    const builder = new ResponseStreamBuilder({ request: parseResponsesRequest({ ...base, tools: [tool], include: ["file_search_call.results"] }) });
    const events = searched(builder, [], [], [{ type: "finish", choice: 0, finishReason: "stop" }, usage]);
    checkEvents(events);
    assert.ok(!events.some((e) => e.type === "response.output_text.annotation.added"));
    const final = builder.response;
    assertSchema("Response", final);
    assert.equal(final.output.length, 2);
    const [call, message] = final.output;
    assert.ok(call?.type === "file_search_call" && message?.type === "message");
    assert.deepEqual(call.results, []);
    assert.deepEqual(message.content[0]?.annotations, []);

    const cited = new ResponseStreamBuilder({ request: parseResponsesRequest({ ...base, tools: [tool] }) });
    checkEvents(searched(cited, [hit("file-a", "x")], [hit("file-a", "x")], [{ type: "finish", choice: 0, finishReason: "stop" }]));
    const empty = cited.response.output[1];
    assert.ok(empty?.type === "message");
    assert.deepEqual(empty.content[0]?.annotations, [{ type: "file_citation", file_id: "file-a", filename: "file-a.txt", index: 0 }]);
  });

  test("a length stop keeps the citations; a failure marks an unfinished search incomplete", () => {
    const builder = new ResponseStreamBuilder({ request: parseResponsesRequest({ ...base, tools: [tool], max_output_tokens: 16 }) });
    const events = searched(builder, [hit("file-a", "x")], [hit("file-a", "x")], [{ type: "text-delta", choice: 0, text: "abc" }, { type: "finish", choice: 0, finishReason: "length" }, usage]);
    checkEvents(events);
    assert.equal(events.at(-1)?.type, "response.incomplete");
    const message = builder.response.output[1];
    assert.ok(message?.type === "message");
    assert.equal(message.status, "incomplete");
    assert.equal((message.content[0]?.annotations[0] as FileCitation | undefined)?.index, 3);

    const failing = new ResponseStreamBuilder({ request: parseResponsesRequest({ ...base, tools: [tool] }) });
    const failed = [...failing.start(), ...failing.startFileSearch(), ...failing.fail(new Error("boom"))];
    checkEvents(failed);
    assertSchema("Response", failing.response);
    assert.equal((failing.response.output[0] as { status?: string } | undefined)?.status, "incomplete");
  });

  test("text before a function call closes the message; citations go on the message that ends the generation", () => {
    const builder = new ResponseStreamBuilder({ request: parseResponsesRequest({ ...base, tools: [tool, weather] }) });
    const events = searched(builder, [hit("file-a", "x")], [hit("file-a", "x")], [
      { type: "text-delta", choice: 0, text: "Checking." },
      { type: "tool-call-start", choice: 0, index: 0, id: "call_1", name: "get_weather" },
      { type: "tool-call-delta", choice: 0, index: 0, arguments: "{\"city\":\"Paris\"}" },
      { type: "text-delta", choice: 0, text: "Done" },
      { type: "finish", choice: 0, finishReason: "stop" },
    ]);
    checkEvents(events);
    const final = builder.response;
    assertSchema("Response", final);
    assert.deepEqual(final.output.map((o) => o.type), ["file_search_call", "message", "function_call", "message"]);
    const first = final.output[1];
    const last = final.output[3];
    assert.ok(first?.type === "message" && last?.type === "message");
    assert.deepEqual(first.content[0]?.annotations, []);
    assert.deepEqual(last.content[0]?.annotations, [{ type: "file_citation", file_id: "file-a", filename: "file-a.txt", index: 4 }]);
  });
});

/** A chat model with a small context whose tokens are `factor` times o200k's, recording what it was asked. */
class FakeModel extends ChatOnlyModel {
  readonly descriptor = { id: "m", aliases: [], created: 0, ownedBy: "test", pricing: undefined };
  readonly contextSize: number;
  readonly factor: number;
  readonly requests: ChatRequest[] = [];
  constructor(contextSize: number, factor = 1) {
    super(contextSize);
    this.contextSize = contextSize;
    this.factor = factor;
  }
  override async countPromptTokens(request: ChatRequest): Promise<number> {
    return request.messages.reduce((n, m) => n + 4 + Math.ceil(countTokens(m.content) * this.factor), 3);
  }
  async *streamChat(request: ChatRequest, _signal: AbortSignal, onUsage?: (usage: Usage) => void): AsyncGenerator<ChatStreamPart> {
    this.requests.push(request);
    const prompt = await this.countPromptTokens(request);
    if (prompt + (request.maxTokens ?? 0) > this.contextSize) throw new ApiError(400, "too long", { type: "invalid_request_error", param: "input", code: "context_length_exceeded" });
    yield { type: "text-delta", choice: 0, text: "Lily." };
    yield { type: "finish", choice: 0, finishReason: "stop" };
    const used = { promptTokens: prompt, completionTokens: 2, cachedTokens: 0, reasoningTokens: 0 };
    onUsage?.(used);
    yield { type: "usage", usage: used };
  }
}

class FakeSearch implements VectorSearch {
  readonly calls: { projectId: string; request: SearchRequest }[] = [];
  readonly hits: SearchHit[];
  constructor(hits: SearchHit[]) {
    this.hits = hits;
  }
  async search(projectId: string, request: SearchRequest, signal: AbortSignal): Promise<SearchResult> {
    assert.ok(signal instanceof AbortSignal);
    this.calls.push({ projectId, request });
    if (request.vectorStoreIds.includes("vs_hidden")) throw new ApiError(404, "No vector store found with id 'vs_hidden'.", { type: "invalid_request_error", param: "vector_store_id", code: null });
    return { queries: request.queries.map((q) => q.toLowerCase().replace(/[?]/g, "")), hits: this.hits };
  }
}

function service(model: FakeModel, search: FakeSearch | undefined): ResponsesService {
  const registry = new ModelRegistry();
  registry.add(model);
  return new ResponsesService({} as unknown as ObjectStore, new ChatService(registry), {} as unknown as UsageMeter, createLogger("silent"), search === undefined ? {} : { search });
}

const principal = { projectId: "proj_a", keyId: null, admin: false, models: null };

async function respond(svc: ResponsesService, body: Record<string, unknown>) {
  const turn = await svc.prepare("proj_a", parseResponsesRequest({ model: "m", store: false, ...body }));
  const run = await svc.start(principal, turn, new AbortController().signal, () => {});
  const events: ResponseStreamEvent[] = [];
  for await (const event of run.events) events.push(event);
  return { events, response: run.response() };
}

describe("file_search in the Responses service", () => {
  test("searches the project's stores with the latest user message and gives the hits to the model before the conversation", async () => {
    const model = new FakeModel(2048);
    const search = new FakeSearch([hit("file-a", "Lily had a red ball."), hit("file-b", "Tom liked the park.")]);
    const { events, response } = await respond(service(model, search), {
      instructions: "Be brief.",
      input: [{ role: "user", content: "Earlier question" }, { role: "assistant", content: "Earlier answer" }, { role: "user", content: "Who is Lily?" }],
      tools: [{ ...tool, max_num_results: 5, ranking_options: { score_threshold: 0.2, hybrid_search: { embedding_weight: 1, text_weight: 3 } } }],
      include: ["file_search_call.results"],
    });
    checkEvents(events);
    assertSchema("Response", response);
    assert.deepEqual(search.calls, [{
      projectId: "proj_a",
      request: { vectorStoreIds: ["vs_1"], queries: ["Who is Lily?"], maxResults: 5, filter: undefined, scoreThreshold: 0.2, rewriteQuery: true, weights: { embedding: 1, text: 3 } },
    }]);
    const messages = model.requests[0]?.messages ?? [];
    assert.deepEqual(messages.map((m) => m.role), ["system", "system", "user", "assistant", "user"]);
    assert.equal(messages[0]?.content, "Be brief.");
    assert.equal(messages[1]?.content, `${FILE_SEARCH_CONTEXT_HEADER}\n\n[1] file-a.txt:\nLily had a red ball.\n\n[2] file-b.txt:\nTom liked the park.`);
    const [call, message] = response.output;
    assert.ok(call?.type === "file_search_call" && message?.type === "message");
    assert.deepEqual(call.queries, ["who is lily"], "the queries as the search ran them");
    assert.deepEqual(call.results?.map((r) => r.file_id), ["file-a", "file-b"]);
    assert.deepEqual(message.content[0]?.annotations.map((a) => [(a as FileCitation).file_id, (a as FileCitation).index]), [["file-a", 5], ["file-b", 5]]);
  });

  test("keeps the search results within the model's context, leaving room for the answer", async () => {
    const model = new FakeModel(2048);
    const long = Array.from({ length: 12 }, (_, i) => hit(`file-${i}`, `Chunk ${i}: ${"Lily went to the park and played with her red ball. ".repeat(20)}`));
    const { response } = await respond(service(model, new FakeSearch(long)), { input: "Who is Lily?", tools: [tool], max_output_tokens: 300 });
    const request = model.requests[0];
    assert.ok(request);
    const prompt = await model.countPromptTokens(request);
    assert.ok(prompt + 300 <= 2048, `prompt ${prompt} + 300 fits 2048`);
    assert.ok(prompt > 1200, `the context is used: ${prompt}`);
    const message = response.output[1];
    assert.ok(message?.type === "message");
    const cited = message.content[0]?.annotations.map((a) => (a as FileCitation).file_id) ?? [];
    assert.ok(cited.length > 0 && cited.length < 12, `only the hits given are cited: ${cited.length}`);
    assert.match(request.messages[0]?.content ?? "", new RegExp(`\\[${cited.length}\\] file-${cited.length - 1}\\.txt:`));

    const wordy = new FakeModel(2048, 1.7);
    await respond(service(wordy, new FakeSearch(long)), { input: "Who is Lily?", tools: [tool], max_output_tokens: 300 });
    const prompt1 = await wordy.countPromptTokens(wordy.requests[0] as ChatRequest);
    assert.ok(prompt1 + 300 <= 2048 && prompt1 > 1200, `a tokenizer that counts more than o200k: the results are cut to fit (${prompt1})`);

    const unbounded = new FakeModel(2048);
    await respond(service(unbounded, new FakeSearch(long)), { input: "Who is Lily?", tools: [tool] });
    const prompt2 = await unbounded.countPromptTokens(unbounded.requests[0] as ChatRequest);
    assert.ok(prompt2 <= 2048 - 512, `without max_output_tokens, 512 tokens stay free: ${prompt2}`);
  });

  test("tool_choice none searches nothing; a store the project cannot see is a 404 before any event; no search service is a 400", async () => {
    const model = new FakeModel(2048);
    const search = new FakeSearch([hit("file-a", "x")]);
    const svc = service(model, search);
    const { response } = await respond(svc, { input: "Who?", tools: [tool], tool_choice: "none" });
    assert.equal(search.calls.length, 0);
    assert.deepEqual(response.output.map((o) => o.type), ["message"]);
    await assert.rejects(respond(svc, { input: "Who?", tools: [{ ...tool, vector_store_ids: ["vs_hidden"] }] }), (e: unknown) => e instanceof ApiError && e.status === 404 && e.param === "tools[0].vector_store_ids");
    assert.equal(model.requests.length, 1, "the model never ran for the 404");
    await assert.rejects(respond(service(model, undefined), { input: "Who?", tools: [tool] }), (e: unknown) => e instanceof ApiError && e.status === 400 && e.param === "tools[0].type");
  });
});
