import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { configSchema } from "../../src/config/schema.ts";
import { startFakeUpstream, type FakeUpstream } from "../helpers/fake-upstream.ts";
import { assertSchema } from "../helpers/openapi.ts";
import { raw, sseData, startTestServer, waitFor, type TestServer } from "../helpers/server.ts";

const ADMIN = "sk-admin-guardrails-test-0123456789";
const SECRET = "sk-proj-Q7wErTy9UiOp1AsDfGhJkL2ZxCvBnM";
const EMAIL = "li.wei@example.com";

/** An upstream answer streamed `size` characters per chunk, so entities are split at every kind of offset. */
function chunked(text: string, size: number): string[] {
  const frame = (delta: Record<string, unknown>, finish: string | null) =>
    JSON.stringify({ id: "chatcmpl-up", object: "chat.completion.chunk", created: 1, model: "m", choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });
  const frames = [frame({ role: "assistant", content: "" }, null)];
  for (let i = 0; i < text.length; i += size) frames.push(frame({ content: text.slice(i, i + size) }, null));
  frames.push(frame({}, "stop"));
  frames.push(JSON.stringify({ id: "chatcmpl-up", object: "chat.completion.chunk", created: 1, model: "m", choices: [], usage: { prompt_tokens: 9, completion_tokens: 20, total_tokens: 29 } }));
  frames.push("[DONE]");
  return frames;
}

describe("moderation and guardrails", () => {
  let server: TestServer;
  let upstream: FakeUpstream;
  let projectId = "";
  let key = "";
  let client: OpenAI;
  const admin = (path: string, body?: unknown, method?: string) =>
    raw(server, path, { ...(body !== undefined ? { body: JSON.stringify(body) } : {}), ...(method !== undefined ? { method } : {}), headers: { authorization: `Bearer ${ADMIN}` } });

  before(async () => {
    upstream = await startFakeUpstream();
    server = await startTestServer({
      env: { MODELPORT_ADMIN_KEY: ADMIN, MODELPORT_API_KEYS: "sk-guardrails-default-key-0123" },
      moderation: configSchema.shape.moderation.parse({ guardModels: [{ id: "stories-guard", model: "stories", family: "llama-guard-3" }] }),
      upstreams: {
        deployments: [{ id: "dep", provider: "openai-compatible", baseUrl: upstream.url, model: "m", timeoutMs: 10_000 }],
        models: [{ name: "routed", deployments: ["dep"], maxRetries: 0 }],
      },
    });
    projectId = ((await admin("/v1/organization/projects", { name: "Guarded" })).body as { id: string }).id;
    key = ((await admin(`/v1/organization/projects/${projectId}/api_keys`, { name: "k" })).body as { value: string }).value;
    client = new OpenAI({ baseURL: server.baseURL, apiKey: key, maxRetries: 0 });
  });
  after(async () => {
    await server?.close();
    await upstream?.close();
  });

  it("answers /v1/moderations locally with the rule engine, in OpenAI's shape", async () => {
    const one = await client.moderations.create({ model: "omni-moderation-latest", input: "I am going to kill you tonight." });
    assertSchema("CreateModerationResponse", one);
    assert.match(one.id, /^modr-/);
    assert.equal(one.results.length, 1);
    assert.equal(one.results[0]?.flagged, true);
    assert.ok((one.results[0]?.category_scores.violence ?? 0) > 0.5);
    const many = await client.moderations.create({ model: "text-moderation-latest", input: ["What a lovely day for a picnic.", "我要杀了你"] });
    assertSchema("CreateModerationResponse", many);
    assert.deepEqual(many.results.map((r) => r.flagged), [false, true]);
    assert.deepEqual(many.results[0]?.category_applied_input_types.violence, ["text"]);
    const parts = await client.moderations.create({ input: [{ type: "text", text: "Nice weather." }, { type: "text", text: "Have a good one." }] });
    assert.equal(parts.results.length, 1);
    assert.equal(parts.results[0]?.flagged, false);

    const image = await raw(server, "/v1/moderations", { body: JSON.stringify({ input: [{ type: "text", text: "hi" }, { type: "image_url", image_url: { url: "https://example.com/a.png" } }] }), headers: { authorization: `Bearer ${key}` } });
    assert.equal(image.status, 400);
    assert.equal((image.body as { error: { param: string } }).error.param, "input[1].image_url");
    const unknown = await raw(server, "/v1/moderations", { body: JSON.stringify({ model: "no-such-moderation", input: "x" }), headers: { authorization: `Bearer ${key}` } });
    assert.equal(unknown.status, 404);
    const badInput = await raw(server, "/v1/moderations", { body: JSON.stringify({ input: 42 }), headers: { authorization: `Bearer ${key}` } });
    assert.equal((badInput.body as { error: { param: string } }).error.param, "input");

    const now = Math.floor(Date.now() / 1000);
    await waitFor(async () => {
      const page = (await admin(`/v1/organization/usage/moderations?start_time=${now - 60}&group_by[]=model`)).body as { data: { results: { num_model_requests: number }[] }[] };
      return page.data.flatMap((b) => b.results).reduce((n, r) => n + r.num_model_requests, 0) === 3;
    }, 5000);
  });

  it("refuses bad policies by name, and shows the one set", async () => {
    const bad: [unknown, string][] = [
      [{ input: [{ type: "pii", action: "shout" }] }, "input[0].action"],
      [{ input: [{ type: "banned", regexes: ["(a+)+$"] }] }, "input[0].regexes"],
      [{ output: [{ type: "max_input_tokens", limit: 5 }] }, "output[0].type"],
      [{ input: [{ type: "moderation", model: "nope" }] }, "input[0].model"],
      [{ input: [{ type: "pii", entities: ["dna"] }] }, "input[0].entities[0]"],
      [{ inputs: [] }, "inputs"],
    ];
    for (const [policy, param] of bad) {
      const res = await admin(`/v1/organization/projects/${projectId}/guardrails`, policy);
      assert.equal(res.status, 400, JSON.stringify(policy));
      assert.equal((res.body as { error: { param: string } }).error.param, param, JSON.stringify(policy));
    }
    const set = await admin(`/v1/organization/projects/${projectId}/guardrails`, {
      input: [
        { type: "banned", name: "no-project-x", action: "block", words: ["project xylophone"] },
        { type: "pii", action: "redact", entities: ["email", "phone"], restore_output: true },
        { type: "moderation", action: "block", thresholds: { violence: 0.5 } },
      ],
      output: [
        { type: "pii", action: "redact", entities: ["secret", "payment_card"] },
        { type: "banned", name: "no-bananas", action: "block", words: ["banana"] },
      ],
    });
    assert.equal(set.status, 200, set.text);
    const shown = (await admin(`/v1/organization/projects/${projectId}/guardrails`)).body as { source: string; input: { type: string; name: string }[] };
    assert.equal(shown.source, "project");
    assert.deepEqual(shown.input.map((c) => c.name), ["no-project-x", "pii", "moderation"]);
  });

  it("blocks input by name, redacts what goes upstream, and restores it in the answer", async () => {
    const blocked = await raw(server, "/v1/chat/completions", { body: JSON.stringify({ model: "stories", messages: [{ role: "user", content: "Tell me about Project Xylophone" }] }), headers: { authorization: `Bearer ${key}` } });
    assert.equal(blocked.status, 400);
    const error = (blocked.body as { error: { code: string; message: string } }).error;
    assert.equal(error.code, "content_policy_violation");
    assert.match(error.message, /no-project-x/);
    const violent = await raw(server, "/v1/chat/completions", { body: JSON.stringify({ model: "stories", messages: [{ role: "user", content: "I will kill you" }] }), headers: { authorization: `Bearer ${key}` } });
    assert.equal((violent.body as { error: { code: string; message: string } }).error.code, "content_policy_violation");
    assert.match((violent.body as { error: { message: string } }).error.message, /guardrail 'moderation' \((violence|harassment\/threatening|harassment)\)/);

    upstream.script(() => ({ kind: "stream", text: "I will write to [EMAIL_1] today." }));
    const answer = await client.chat.completions.create({ model: "routed", messages: [{ role: "system", content: "Be brief." }, { role: "user", content: `Please email ${EMAIL} or call +86 138 1234 5678.` }] });
    const sent = JSON.stringify(upstream.seen.at(-1)?.body);
    assert.ok(!sent.includes(EMAIL) && !sent.includes("1234 5678"), "the upstream never sees the values");
    assert.match(sent, /\[EMAIL_1\].*\[PHONE_1\]/);
    assert.equal(answer.choices[0]?.message.content, `I will write to ${EMAIL} today.`);
  });

  it("redacts a secret split across stream chunks at any offset, and cuts an answer at a banned word", async () => {
    const text = `Your key is ${SECRET} and card 4111 1111 1111 1111, keep them safe.`;
    for (const size of [1, 3, 7, 13]) {
      upstream.script(() => ({ kind: "sse", frames: chunked(text, size) }));
      const stream = await client.chat.completions.create({ model: "routed", messages: [{ role: "user", content: "key?" }], stream: true });
      let out = "";
      let finish: string | null = null;
      for await (const c of stream) {
        out += c.choices[0]?.delta.content ?? "";
        finish = c.choices[0]?.finish_reason ?? finish;
      }
      assert.equal(out, "Your key is [SECRET_1] and card [PAYMENT_CARD_1], keep them safe.", `chunks of ${size}`);
      assert.equal(finish, "stop");
      // No piece of the secret long enough to matter ever reached the client.
      assert.ok(!out.includes(SECRET.slice(8, 20)));
    }
    upstream.script(() => ({ kind: "sse", frames: chunked("I like apples. I like banana bread too. And cherries.", 4) }));
    const stream = await client.chat.completions.create({ model: "routed", messages: [{ role: "user", content: "fruit?" }], stream: true });
    let out = "";
    let finish: string | null = null;
    for await (const c of stream) {
      out += c.choices[0]?.delta.content ?? "";
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(finish, "content_filter");
    assert.equal(out, "I like apples. I like ");
    upstream.script(() => ({ kind: "stream", text: "Banana is yellow." }));
    const whole = await client.chat.completions.create({ model: "routed", messages: [{ role: "user", content: "fruit?" }] });
    assert.equal(whole.choices[0]?.finish_reason, "content_filter");
    assert.equal(whole.choices[0]?.message.content, "");
  });

  it("records what the checks did in the request log and the metrics", async () => {
    await waitFor(async () => {
      const list = (await admin(`/v1/organization/requests?project_id=${projectId}&limit=100`)).body as { data: { guardrails: { stage: string; check: string; action: string; category: string | null }[] }[] };
      const events = list.data.flatMap((r) => r.guardrails);
      return (
        events.some((e) => e.stage === "input" && e.check === "no-project-x" && e.action === "block") &&
        events.some((e) => e.stage === "input" && e.check === "pii" && e.action === "redact" && e.category === "email") &&
        events.some((e) => e.stage === "output" && e.check === "pii" && e.category === "secret") &&
        events.some((e) => e.stage === "output" && e.check === "no-bananas" && e.action === "block")
      );
    }, 5000);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /modelport_guardrail_events_total\{stage="output",check="no-bananas",action="block"\} 2/);
  });

  it("dry-runs a policy on a text", async () => {
    const res = await admin("/v1/organization/guardrails/dry_run", { project_id: projectId, input: `mail ${EMAIL}`, output: `here: ${SECRET}` });
    assert.equal(res.status, 200, res.text);
    const body = res.body as { input: { text: string; blocked: boolean; events: unknown[] }; output: { text: string; blocked: boolean } };
    assert.equal(body.input.text, "mail [EMAIL_1]");
    assert.equal(body.input.blocked, false);
    assert.equal(body.output.text, "here: [SECRET_1]");
    const given = await admin("/v1/organization/guardrails/dry_run", { policy: { input: [{ type: "max_input_tokens", limit: 1 }] }, input: "x" });
    assert.equal((given.body as { input: { blocked: boolean } }).input.blocked, false, "a dry run has no model, so no token count");
    const none = await admin("/v1/organization/guardrails/dry_run", { project_id: projectId });
    assert.equal(none.status, 400);
  });

  it("applies the policy to batch lines", async () => {
    const lines = [
      { custom_id: "ok", method: "POST", url: "/v1/chat/completions", body: { model: "stories", messages: [{ role: "user", content: "Once upon a time" }], max_tokens: 5 } },
      { custom_id: "blocked", method: "POST", url: "/v1/chat/completions", body: { model: "stories", messages: [{ role: "user", content: "project xylophone plans" }], max_tokens: 5 } },
    ];
    const file = await client.files.create({ file: new File([lines.map((l) => JSON.stringify(l)).join("\n")], "batch.jsonl"), purpose: "batch" });
    let batch = await client.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
    await waitFor(async () => {
      batch = await client.batches.retrieve(batch.id);
      return batch.status === "completed";
    }, 60_000);
    // Failed lines go to the error file, as OpenAI's batches do.
    const output = (await (await client.files.content(batch.output_file_id as string)).text()) + "\n" + (await (await client.files.content(batch.error_file_id as string)).text());
    const byId = new Map(output.trim().split("\n").filter((l) => l !== "").map((l) => { const r = JSON.parse(l) as { custom_id: string; response: { status_code: number; body: { error?: { code: string } } } }; return [r.custom_id, r.response]; }));
    assert.equal(byId.get("ok")?.status_code, 200);
    assert.equal(byId.get("blocked")?.status_code, 400);
    assert.equal(byId.get("blocked")?.body.error?.code, "content_policy_violation");
  });

  it("guards raw completions too: prompts are checked and redacted", async () => {
    const blocked = await raw(server, "/v1/completions", { body: JSON.stringify({ model: "stories", prompt: "the project xylophone", max_tokens: 3 }), headers: { authorization: `Bearer ${key}` } });
    assert.equal(blocked.status, 400);
    assert.equal((blocked.body as { error: { code: string } }).error.code, "content_policy_violation");
    const echoed = await client.completions.create({ model: "stories", prompt: `Write to ${EMAIL}.`, max_tokens: 3, echo: true });
    // The echo is the prompt the model read.
    assert.ok(echoed.choices[0]?.text.startsWith("Write to [EMAIL_1]."), echoed.choices[0]?.text);
  });

  it("runs a guard model end to end through /v1/moderations", async () => {
    const res = await raw(server, "/v1/moderations", { body: JSON.stringify({ model: "stories-guard", input: ["Hello there.", "How do I bake bread?"] }), headers: { authorization: `Bearer ${key}` } });
    assert.equal(res.status, 200, res.text);
    assertSchema("CreateModerationResponse", res.body);
    const body = res.body as { model: string; results: { flagged: boolean; category_scores: Record<string, number>; category_applied_input_types: Record<string, string[]> }[] };
    assert.equal(body.model, "stories-guard");
    assert.equal(body.results.length, 2);
    for (const r of body.results) {
      for (const score of Object.values(r.category_scores)) assert.ok(score >= 0 && score <= 1);
      // Llama Guard 3 covers violence (S1) but nothing maps to OpenAI's self-harm/instructions.
      assert.deepEqual(r.category_applied_input_types.violence, ["text"]);
      assert.deepEqual(r.category_applied_input_types["self-harm/instructions"], []);
    }
  });

  it("removes a policy", async () => {
    const res = await admin(`/v1/organization/projects/${projectId}/guardrails`, undefined, "DELETE");
    assert.equal((res.body as { source: string }).source, "none");
    const ok = await client.chat.completions.create({ model: "stories", messages: [{ role: "user", content: "project xylophone" }], max_tokens: 3 });
    assert.ok(ok.choices.length === 1);
  });

  void sseData;
});
