import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
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
      const unit = new URL(`../unit/${file}`, import.meta.url);
      const source = readFileSync(existsSync(unit) ? unit : new URL(`../integration/${file}`, import.meta.url), "utf8");
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

  it("accepts modalities text, and text with audio given audio options; rejects the rest naming the param", () => {
    parseChatCompletionRequest({ ...base, modalities: ["text"] });
    const spoken = parseChatCompletionRequest({ ...base, modalities: ["text", "audio"], audio: { voice: "coral", format: "mp3" } });
    assert.deepEqual(spoken.audioOutput, { voice: { name: "coral" }, format: "mp3" });
    assert.deepEqual(parseChatCompletionRequest({ ...base, modalities: ["text", "audio"], audio: { voice: { id: "en-us" }, format: "pcm16" }, stream: true }).audioOutput?.voice, { id: "en-us" });
    rejects({ modalities: ["text", "audio"] }, "audio");
    rejects({ audio: { voice: "coral", format: "mp3" } }, "audio");
    rejects({ modalities: ["audio"], audio: { voice: "coral", format: "mp3" } }, "modalities");
    rejects({ modalities: ["text", "video"] }, "modalities[1]");
    rejects({ modalities: ["text", "audio"], audio: { voice: "nobody", format: "mp3" } }, "audio.voice");
    rejects({ modalities: ["text", "audio"], audio: { voice: "coral", format: "ogg" } }, "audio.format");
    rejects({ modalities: ["text", "audio"], audio: { voice: "coral", format: "mp3", speed: 2 } }, "audio.speed");
    rejects({ modalities: ["text", "audio"], audio: { voice: "coral", format: "mp3" }, stream: true }, "audio.format");
  });

  it("reads input_audio parts as clips whose transcripts fill empty text parts, and audio ids of earlier answers", () => {
    const wav = Buffer.from("RIFF....WAVE").toString("base64");
    const parsed = parseChatCompletionRequest({
      ...base,
      messages: [
        { role: "user", content: [{ type: "text", text: "Listen:" }, { type: "input_audio", input_audio: { data: wav, format: "wav" } }] },
        { role: "assistant", audio: { id: "audio_abc" } },
        { role: "user", content: "and?" },
      ],
    });
    assert.equal(parsed.audioInputs.length, 1);
    assert.deepEqual({ ...parsed.audioInputs[0], data: undefined }, { message: 0, part: 1, data: undefined, format: "wav", param: "messages[0].content[1]" });
    assert.deepEqual(parsed.audioInputs[0]?.data, Buffer.from("RIFF....WAVE"));
    assert.deepEqual(parsed.audioReferences, [{ message: 1, id: "audio_abc", param: "messages[1].audio.id" }]);
    const clip = (input_audio: unknown) => ({ messages: [{ role: "user", content: [{ type: "input_audio", input_audio }] }] });
    rejects(clip({ data: "not base64!", format: "wav" }), "messages[0].content[0].input_audio.data");
    rejects(clip({ data: "", format: "wav" }), "messages[0].content[0].input_audio.data");
    rejects(clip({ data: wav, format: "ogg" }), "messages[0].content[0].input_audio.format");
    rejects(clip({ data: wav }), "messages[0].content[0].input_audio.format");
    rejects({ messages: [{ role: "system", content: [{ type: "input_audio", input_audio: { data: wav, format: "wav" } }] }] }, "messages[0].content[0]");
  });
});
