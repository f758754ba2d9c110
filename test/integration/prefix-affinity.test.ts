import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { startFakeUpstream, type FakeUpstream } from "../helpers/fake-upstream.ts";
import { startTestServer, type TestServer } from "../helpers/server.ts";

let upstreams: FakeUpstream[];
let server: TestServer;

/** Which fake upstreams took requests since the last reset, by index. */
function takers(): number[] {
  return upstreams.flatMap((u, i) => (u.seen.length > 0 ? [i] : []));
}

function reset(): void {
  for (const u of upstreams) u.seen.length = 0;
}

before(async () => {
  upstreams = await Promise.all([0, 1, 2].map(() => startFakeUpstream()));
  upstreams.forEach((u, i) => u.script(() => ({ kind: "stream", text: `Answer from replica ${i}.` })));
  server = await startTestServer({
    models: [],
    upstreams: {
      // `endpoints: []`: chat only, as for vLLM or llama.cpp, so Responses requests are bridged through chat here.
      deployments: upstreams.map((u, i) => ({ id: `r${i}`, provider: "openai-compatible" as const, baseUrl: u.url, model: "engine", endpoints: [] })),
      models: [{ name: "sticky", deployments: ["r0", "r1", "r2"], routing: "prefix-affinity" as const }],
    },
  });
});
after(async () => {
  await server.close();
  await Promise.all(upstreams.map((u) => u.close()));
});
beforeEach(reset);

describe("prefix-affinity routing through the server", () => {
  it("sends every turn of a chat conversation to one replica, and different conversations to several", async () => {
    const homes = new Set<number>();
    for (let c = 0; c < 12; c++) {
      const messages: { role: "system" | "user" | "assistant"; content: string }[] = [{ role: "system", content: `You are assistant number ${c}.` }];
      for (let turn = 0; turn < 3; turn++) {
        messages.push({ role: "user", content: `Question ${turn}?` });
        const res = await server.client.chat.completions.create({ model: "sticky", messages });
        messages.push({ role: "assistant", content: res.choices[0]?.message.content ?? "" });
      }
      assert.equal(takers().length, 1, `conversation ${c} stayed on one replica`);
      homes.add(takers()[0] as number);
      reset();
    }
    assert.ok(homes.size >= 2, "12 conversations do not all hash to one replica");
  });

  it("keeps a Responses chain (previous_response_id, bridged through chat) on one replica", async () => {
    for (let c = 0; c < 3; c++) {
      let previous: string | undefined;
      for (let turn = 0; turn < 3; turn++) {
        const res = await server.client.responses.create({
          model: "sticky",
          instructions: `Chain ${c}.`,
          input: turn === 0 ? `Opening of chain ${c}` : `Follow-up ${turn}`,
          ...(previous !== undefined ? { previous_response_id: previous } : {}),
        });
        previous = res.id;
      }
      const seen = takers();
      assert.equal(seen.length, 1, `chain ${c} stayed on one replica`);
      const calls = upstreams[seen[0] as number]?.seen ?? [];
      assert.equal(calls.length, 3);
      // The stored history reached the router: the last turn carries the first's messages.
      const last = calls[2]?.body.messages as { content: unknown }[];
      assert.ok(last.length >= 5 && JSON.stringify(last).includes(`Opening of chain ${c}`));
      reset();
    }
  });

  it("groups chat requests by prompt_cache_key, whatever their text, and counts affinity routing in /metrics", async () => {
    for (const key of ["tenant-a", "tenant-b", "tenant-c"]) {
      for (let i = 0; i < 4; i++) {
        await server.client.chat.completions.create({ model: "sticky", prompt_cache_key: key, messages: [{ role: "system", content: `Prompt ${i} of ${key}` }, { role: "user", content: `Question ${i}` }] });
      }
      assert.equal(takers().length, 1, `${key} stayed on one replica`);
      reset();
    }
    // One at a time, nothing resting: every attempt went to its key's first deployment.
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const sum = (name: string): number =>
      [...text.matchAll(new RegExp(`^${name}\\{model="sticky",deployment="r\\d"\\} (\\d+)$`, "gm"))].reduce((n, m) => n + Number(m[1]), 0);
    const requests = sum("modelport_upstream_requests");
    assert.ok(requests >= 12, text);
    assert.equal(sum("modelport_upstream_affinity_first"), requests);
    assert.equal(sum("modelport_upstream_affinity_diverted"), 0);
  });
});
