/**
 * bench/conversation: a 10-turn conversation through the Responses API's previous_response_id on the
 * local engine. Each turn sends only its new message; the server rebuilds the history from storage
 * and schedules the turn onto the sequence that still holds the earlier turns' KV state. Reports the
 * time to first token per turn (median over several conversations, interleaved) and the
 * cached_tokens the server reports, and the ratio turn 10 / turn 1 (target ≤ 1.5). A control
 * replays each turn's full history as a fresh request with a different first word, so nothing can
 * be reused, to show what the cache saves.
 *
 *   npm run bench:conversation [-- --conversations 5 --turns 10]
 */
import { parseArgs } from "node:util";
import { appendResults, machineFacts, median } from "./machine.ts";
import { BENCH_KEY, startBenchServer } from "./server.ts";

const { values } = parseArgs({ options: { conversations: { type: "string", default: "5" }, turns: { type: "string", default: "10" } } });
const CONVERSATIONS = Number(values.conversations);
const TURNS = Number(values.turns);
const OPENING = "Once upon a time there was a little girl named Lily who loved her red ball. ".repeat(12);

interface Turn {
  id: string;
  ttftMs: number;
  inputTokens: number;
  cachedTokens: number;
}

/** One streamed response: time to the first text delta, and the usage of the final event. */
async function turn(url: string, body: Record<string, unknown>): Promise<Turn> {
  const started = performance.now();
  const res = await fetch(`${url}/v1/responses`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${BENCH_KEY}` },
    body: JSON.stringify({ model: "stories260K", stream: true, max_output_tokens: 32, temperature: 0, ...body }),
  });
  if (!res.ok || res.body === null) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  let ttftMs = Number.NaN;
  let text = "";
  let final: { id: string; usage: { input_tokens: number; input_tokens_details: { cached_tokens: number } } } | undefined;
  const decoder = new TextDecoder();
  for await (const chunk of res.body) {
    text += decoder.decode(chunk, { stream: true });
    if (Number.isNaN(ttftMs) && text.includes("response.output_text.delta")) ttftMs = performance.now() - started;
  }
  for (const line of text.split("\n")) {
    if (!line.startsWith("data: ")) continue;
    const event = JSON.parse(line.slice(6)) as { type: string; response?: typeof final };
    if (event.type === "response.completed" || event.type === "response.incomplete") final = event.response;
  }
  if (final === undefined) throw new Error("no final event");
  return { id: final.id, ttftMs, inputTokens: final.usage.input_tokens, cachedTokens: final.usage.input_tokens_details.cached_tokens };
}

const server = await startBenchServer({ sequences: 4, threads: 1, contextSize: 4096 });
const chained: Turn[][] = Array.from({ length: TURNS }, () => []);
const cold: number[][] = Array.from({ length: TURNS }, () => []);
try {
  await turn(server.url, { input: "Warm up." });
  for (let c = 0; c < CONVERSATIONS; c++) {
    let previous: string | undefined;
    const history: { role: string; content: string }[] = [];
    for (let t = 0; t < TURNS; t++) {
      const message = t === 0 ? `Conversation ${c}. ${OPENING}` : `Turn ${t}: and then what happened?`;
      const result = await turn(server.url, { input: message, ...(previous ? { previous_response_id: previous } : {}) });
      chained[t]!.push(result);
      previous = result.id;
      // The control: the same history sent whole, with a first word nothing else starts with.
      history.push({ role: "user", content: message });
      const control = await turn(server.url, { input: [{ role: "user", content: `Control ${Math.random()}.` }, ...history], store: false });
      cold[t]!.push(control.ttftMs);
      const stored = (await (await fetch(`${server.url}/v1/responses/${result.id}`, { headers: { authorization: `Bearer ${BENCH_KEY}` } })).json()) as { output: { content?: { text: string }[] }[] };
      history.push({ role: "assistant", content: stored.output.map((o) => o.content?.map((p) => p.text).join("") ?? "").join("") });
      console.log(`conversation ${c + 1} turn ${t + 1}: ttft ${result.ttftMs.toFixed(1)} ms (cached ${result.cachedTokens} of ${result.inputTokens}), control ${control.ttftMs.toFixed(1)} ms`);
    }
  }
} finally {
  await server.stop();
}
const ttft = chained.map((ts) => median(ts.map((t) => t.ttftMs)));
const ratio = (ttft[TURNS - 1] as number) / (ttft[0] as number);
const rows = chained.map((ts, t) => `| ${t + 1} | ${median(ts.map((x) => x.inputTokens))} | ${median(ts.map((x) => x.cachedTokens))} | ${(ttft[t] as number).toFixed(1)} | ${median(cold[t] as number[]).toFixed(1)} |`);
console.log(`TTFT turn ${TURNS} / turn 1: ${ratio.toFixed(2)} (target <= 1.5)`);
appendResults(`## conversation: ${TURNS} turns through previous_response_id on the local engine (${new Date().toISOString()})

- Machine: ${machineFacts()}
- Model: stories260K, 4 sequences × 4096 context, 1 thread; ${CONVERSATIONS} conversations; each turn streams 32 output tokens; the first turn carries a ~230-token opening
- Control: the same history sent whole as a fresh request whose first message differs, so no state can be reused

| turn | input tokens | cached_tokens | median TTFT (ms) | control TTFT, nothing reused (ms) |
|---|---|---|---|---|
${rows.join("\n")}

**TTFT turn ${TURNS} / turn 1 = ${ratio.toFixed(2)}** (target ≤ 1.5)
`);
