import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { gunzipSync } from "node:zlib";
import { after, before, describe, it } from "node:test";
import { tracingSdkLoaded } from "../../src/main/tracing.ts";
import { startFakeUpstream, type FakeUpstream } from "../helpers/fake-upstream.ts";
import { raw, STORIES, startTestServer, type TestServer } from "../helpers/server.ts";

/** One exported span, flattened from OTLP/JSON. */
interface ExportedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  status: number;
  attributes: Record<string, string | number | boolean>;
  resource: Record<string, string | number | boolean>;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: number | string;
  doubleValue?: number;
  boolValue?: boolean;
}
interface OtlpAttribute {
  key: string;
  value: OtlpValue;
}
interface OtlpExport {
  resourceSpans?: {
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans?: { spans?: { traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number; status?: { code?: number }; attributes?: OtlpAttribute[] }[] }[];
  }[];
}

const SPAN_KIND_INTERNAL = 1;
const SPAN_KIND_SERVER = 2;
const SPAN_KIND_CLIENT = 3;
const STATUS_ERROR = 2;

function attributes(list: OtlpAttribute[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value } of list ?? []) {
    const v = value.stringValue ?? value.boolValue ?? value.doubleValue ?? (value.intValue !== undefined ? Number(value.intValue) : undefined);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

/** A stand-in OpenTelemetry collector: a real HTTP server taking OTLP/HTTP JSON exports. */
async function startCollector(): Promise<{ url: string; spans: ExportedSpan[]; headers: IncomingHttpHeaders[]; close(): Promise<void> }> {
  const spans: ExportedSpan[] = [];
  const headers: IncomingHttpHeaders[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      headers.push(req.headers);
      let body = Buffer.concat(chunks);
      if (req.headers["content-encoding"] === "gzip") body = gunzipSync(body);
      assert.match(String(req.headers["content-type"]), /application\/json/);
      const exported = JSON.parse(body.toString("utf8")) as OtlpExport;
      for (const rs of exported.resourceSpans ?? []) {
        const resource = attributes(rs.resource?.attributes);
        for (const ss of rs.scopeSpans ?? []) {
          for (const s of ss.spans ?? []) {
            spans.push({ traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId ?? "", name: s.name, kind: s.kind, status: s.status?.code ?? 0, attributes: attributes(s.attributes), resource });
          }
        }
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    spans,
    headers,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const hex = (n: number): string => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join("");

describe("OpenTelemetry traces", () => {
  it("are off by default: a server that is not asked to trace never loads the SDK", async () => {
    const server = await startTestServer({ models: [{ id: "stories", path: STORIES, aliases: [] }] });
    try {
      assert.equal(server.app.inFlight, 0);
      const res = await raw(server, "/v1/chat/completions", {
        body: JSON.stringify({ model: "stories", messages: [{ role: "user", content: "Once" }], max_tokens: 3 }),
        headers: { traceparent: `00-${hex(32)}-${hex(16)}-01` },
      });
      assert.equal(res.status, 200);
    } finally {
      await server.close();
    }
    assert.equal(tracingSdkLoaded(), false);
  });

  describe("when on", () => {
    let collector: Awaited<ReturnType<typeof startCollector>>;
    let upstream: FakeUpstream;
    let server: TestServer;
    const local = { trace: hex(32), parent: hex(16) };
    const relayed = { trace: hex(32), parent: hex(16) };

    before(async () => {
      collector = await startCollector();
      upstream = await startFakeUpstream();
      server = await startTestServer({
        models: [{ id: "stories", path: STORIES, aliases: [] }],
        tracing: { enabled: true, endpoint: `${collector.url}/v1/traces`, serviceName: "modelport-test", headers: { "x-collector-key": "secret-123" } },
        upstreams: {
          deployments: [{ id: "up-1", provider: "openai-compatible", baseUrl: upstream.url, model: "gpt-4o-mini", weight: 1, timeoutMs: 2000 }],
          models: [{ name: "cloud", aliases: [], deployments: ["up-1"], fallbacks: [], contextFallbacks: [], maxRetries: 1, deadlineMs: 10_000, breakerThreshold: 100, breakerCooldownMs: 0 }],
        },
      });
      assert.equal(tracingSdkLoaded(), true);
      // The upstream fails the first attempt (retryable), then answers: two attempt spans; later, it only fails.
      upstream.script((n) => (n === 1 || n >= 3 ? { kind: "json", status: 500, body: { error: { message: "boom", type: "server_error" } } } : { kind: "stream", text: "Hello from upstream" }));
      const a = await raw(server, "/v1/chat/completions", {
        body: JSON.stringify({ model: "stories", messages: [{ role: "user", content: "Once upon" }], max_tokens: 4 }),
        headers: { traceparent: `00-${local.trace}-${local.parent}-01` },
      });
      assert.equal(a.status, 200);
      const b = await raw(server, "/v1/chat/completions", {
        body: JSON.stringify({ model: "cloud", messages: [{ role: "user", content: "Hi" }], stream: true }),
        headers: { traceparent: `00-${relayed.trace}-${relayed.parent}-01` },
      });
      assert.equal(b.status, 200);
      const missing = await raw(server, "/v1/nothing-here");
      assert.equal(missing.status, 404);
      const failed = await raw(server, "/v1/chat/completions", { body: JSON.stringify({ model: "cloud", messages: [{ role: "user", content: "Hi" }] }) });
      assert.equal(failed.status, 502);
      // Closing flushes every span to the collector.
      await server.close();
    });
    after(async () => {
      await upstream.close();
      await collector.close();
    });

    it("exports with the configured service name and headers", () => {
      assert.ok(collector.spans.length > 0);
      assert.equal(collector.headers[0]?.["x-collector-key"], "secret-123");
      for (const s of collector.spans) assert.equal(s.resource["service.name"], "modelport-test");
    });

    it("opens one server span per request under the client's traceparent, with route, status, model and project", () => {
      const servers = collector.spans.filter((s) => s.kind === SPAN_KIND_SERVER && s.traceId === local.trace);
      assert.equal(servers.length, 1);
      const span = servers[0]!;
      assert.equal(span.parentSpanId, local.parent);
      assert.equal(span.name, "POST /v1/chat/completions");
      assert.equal(span.attributes["http.request.method"], "POST");
      assert.equal(span.attributes["http.route"], "/v1/chat/completions");
      assert.equal(span.attributes["http.response.status_code"], 200);
      assert.equal(span.attributes["modelport.model"], "stories");
      assert.equal(typeof span.attributes["modelport.project_id"], "string");
      assert.equal(span.attributes["modelport.key_id"], undefined);
      // A request without a traceparent is a root of its own; an unmatched one is named so.
      const unmatched = collector.spans.find((s) => s.kind === SPAN_KIND_SERVER && s.name === "GET unmatched");
      assert.ok(unmatched);
      assert.equal(unmatched.parentSpanId, "");
      assert.equal(unmatched.attributes["http.response.status_code"], 404);
      assert.notEqual(unmatched.status, STATUS_ERROR);
      // A 5xx marks the server span failed.
      const failed = collector.spans.find((s) => s.kind === SPAN_KIND_SERVER && s.attributes["http.response.status_code"] === 502);
      assert.ok(failed);
      assert.equal(failed.status, STATUS_ERROR);
      assert.equal(failed.parentSpanId, "");
    });

    it("traces a local generation and its admission as children of the server span, with token counts", () => {
      const inTrace = collector.spans.filter((s) => s.traceId === local.trace);
      const server = inTrace.find((s) => s.kind === SPAN_KIND_SERVER)!;
      const generation = inTrace.find((s) => s.name === "chat stories");
      assert.ok(generation, `spans: ${inTrace.map((s) => s.name).join(", ")}`);
      assert.equal(generation.kind, SPAN_KIND_INTERNAL);
      assert.equal(generation.parentSpanId, server.spanId);
      assert.equal(generation.attributes["gen_ai.request.model"], "stories");
      assert.ok(Number(generation.attributes["gen_ai.usage.input_tokens"]) > 0);
      assert.ok(Number(generation.attributes["gen_ai.usage.output_tokens"]) > 0);
      const admission = inTrace.find((s) => s.name === "admission");
      assert.ok(admission);
      assert.equal(admission.parentSpanId, server.spanId);
    });

    it("traces each upstream attempt as a client span and sends its traceparent upstream", () => {
      const inTrace = collector.spans.filter((s) => s.traceId === relayed.trace);
      const server = inTrace.find((s) => s.kind === SPAN_KIND_SERVER);
      assert.ok(server);
      assert.equal(server.parentSpanId, relayed.parent);
      assert.equal(server.attributes["modelport.model"], "cloud");
      const generation = inTrace.find((s) => s.name === "chat cloud");
      assert.ok(generation, `spans: ${inTrace.map((s) => s.name).join(", ")}`);
      assert.equal(generation.parentSpanId, server.spanId);
      assert.equal(generation.attributes["gen_ai.usage.input_tokens"], 11);
      const attempts = inTrace.filter((s) => s.kind === SPAN_KIND_CLIENT).sort((x, y) => Number(x.attributes["modelport.attempt"]) - Number(y.attributes["modelport.attempt"]));
      assert.equal(attempts.length, 2);
      for (const attempt of attempts) {
        assert.equal(attempt.name, "upstream up-1");
        assert.equal(attempt.parentSpanId, generation.spanId);
        assert.equal(attempt.attributes["modelport.deployment_id"], "up-1");
      }
      assert.equal(attempts[0]!.status, STATUS_ERROR);
      assert.equal(attempts[0]!.attributes["http.response.status_code"], 502);
      assert.notEqual(attempts[1]!.status, STATUS_ERROR);
      assert.equal(attempts[1]!.attributes["http.response.status_code"], 200);
      // The upstream got each attempt's own span as the parent of its work, in the client's trace.
      assert.equal(upstream.seen.length, 4);
      upstream.seen.slice(0, 2).forEach((seen, i) => {
        assert.equal(seen.headers.traceparent, `00-${relayed.trace}-${attempts[i]!.spanId}-01`);
      });
    });
  });
});
