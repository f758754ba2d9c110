import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { HONOURED_PARAMETERS, REJECTED_PARAMETERS, parseChatCompletionRequest } from "../../src/protocol/openai/chat-completions-parse.ts";
import { ApiError } from "../../src/core/errors.ts";
import { SPEC_PATH } from "../helpers/openapi.ts";

type Schema = { $ref?: string; allOf?: Schema[]; properties?: Record<string, unknown> };

function requestFields(): string[] {
  const schemas = (JSON.parse(readFileSync(SPEC_PATH, "utf8")) as { components: { schemas: Record<string, Schema> } }).components.schemas;
  const walk = (s: Schema): string[] => {
    if (s.$ref) return walk(schemas[s.$ref.split("/").pop()!]!);
    return [...(s.allOf ?? []).flatMap(walk), ...Object.keys(s.properties ?? {})];
  };
  return [...new Set(walk(schemas.CreateChatCompletionRequest!))];
}

const base = { model: "m", messages: [{ role: "user", content: "hi" }] };
const rejects = (body: Record<string, unknown>, param: string) =>
  assert.throws(() => parseChatCompletionRequest({ ...base, ...body }), (e: unknown) => e instanceof ApiError && e.status === 400 && e.param === param);

describe("chat completions compatibility with the spec", () => {
  it("classifies every field of CreateChatCompletionRequest, and documents each in docs/compatibility.md", () => {
    const fields = requestFields();
    assert.ok(fields.length > 30);
    const known = new Set([...HONOURED_PARAMETERS, ...REJECTED_PARAMETERS]);
    assert.deepEqual(fields.filter((f) => !known.has(f)), [], "fields the server does not classify");
    assert.deepEqual([...known].filter((f) => !fields.includes(f)), [], "classified fields the spec lacks");
    const doc = readFileSync(new URL("../../docs/compatibility.md", import.meta.url), "utf8");
    for (const field of fields) assert.match(doc, new RegExp(`^\\| \`${field}\` \\|`, "m"), `docs row for ${field}`);
  });

  it("names only tests that exist", () => {
    const doc = readFileSync(new URL("../../docs/compatibility.md", import.meta.url), "utf8");
    const refs = [...doc.matchAll(/([\w-]+\.test\.ts) › ([^|<]+)/g)];
    assert.ok(refs.length > 30);
    for (const [, file, name] of refs) {
      const dir = file!.startsWith("image-input") || file!.startsWith("compatibility") ? "unit" : "integration";
      const source = readFileSync(new URL(`../${dir}/${file}`, import.meta.url), "utf8");
      assert.ok(source.includes(`"${name!.trim()}"`), `${file} has a test named "${name!.trim()}"`);
    }
  });

  it("rejects every field it cannot honour by name", () => {
    const samples: Record<string, unknown> = { audio: { voice: "alloy", format: "mp3" }, prediction: { type: "content", content: "x" }, web_search_options: {}, verbosity: "low", prompt_cache_retention: "24h", prompt_cache_options: {}, moderation: {} };
    for (const field of REJECTED_PARAMETERS) rejects({ [field]: samples[field] ?? "x" }, field);
  });

  it("accepts the identifier fields", () => {
    const parsed = parseChatCompletionRequest({ ...base, user: "u", safety_identifier: "s", prompt_cache_key: "k" });
    assert.equal(parsed.request.model, "m");
  });

  it("accepts service_tier auto and default, rejects the rest", () => {
    parseChatCompletionRequest({ ...base, service_tier: "auto" });
    parseChatCompletionRequest({ ...base, service_tier: "default" });
    rejects({ service_tier: "flex" }, "service_tier");
  });

  it("accepts modalities text only", () => {
    parseChatCompletionRequest({ ...base, modalities: ["text"] });
    rejects({ modalities: ["text", "audio"] }, "modalities");
  });
});
