/**
 * bench/guardrails: what a project's guardrails add.
 *
 * 1. Input: a PII + rules policy (PII redaction of every type, 60 banned words, moderation by the
 *    built-in rule engine) checking a chat request whose user message is about 2,000 tokens of mixed
 *    English and Chinese with a dozen PII values, in this process: the added latency per request,
 *    p50 and p95 (target ≤ 2 ms p50), against the same request without a policy.
 * 2. Output: streamed tokens per second from two real server processes on the same model, one whose
 *    project has an output policy (PII redaction of every type and banned words, as chunks arrive)
 *    and one without, in alternating rounds (target: at most 5 % fewer tokens/s); plus the guard's
 *    own CPU per streamed token, measured in this process.
 *
 *   npm run bench:guardrails [-- --runs 500 --rounds 4 --requests 6 --tokens 200]
 */
import { parseArgs } from "node:util";
import type { ChatRequest, ChatStreamPart } from "../src/core/chat.ts";
import { RuleEngine } from "../src/guard/rules/rule-engine.ts";
import { parseGuardPolicy } from "../src/protocol/openai/guardrails.ts";
import { ChatGuard } from "../src/services/guardrails/chat-guard.ts";
import { compilePolicy, type Moderate } from "../src/services/guardrails/compiled-policy.ts";
import { RulesModerationBackend } from "../src/services/moderation/rules-backend.ts";
import { countTokens } from "gpt-tokenizer";
import { appendResults, machineFacts, median } from "./machine.ts";
import { percentile, startBenchServer, STORIES, streamCompletion } from "./server.ts";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "500" },
    rounds: { type: "string", default: "4" },
    requests: { type: "string", default: "6" },
    tokens: { type: "string", default: "200" },
  },
});
const RUNS = Number(values.runs);
const ROUNDS = Number(values.rounds);
const REQUESTS = Number(values.requests);
const TOKENS = Number(values.tokens);

const BANNED = Array.from({ length: 60 }, (_, i) => `codename${i} falcon`);
const INPUT_POLICY = {
  input: [
    { type: "pii", action: "redact" },
    { type: "banned", action: "block", words: BANNED },
    { type: "moderation", action: "block", model: "rules" },
  ],
};
const OUTPUT_POLICY = { output: [{ type: "pii", action: "redact" }, { type: "banned", action: "block", words: BANNED }] };

/** About 2,000 tokens of mixed prose with PII values in it. */
function longMessage(): string {
  const en = "Our team reviewed the quarterly report and the deployment plan for the new region, and we agreed to follow up next week with the remaining questions about capacity and cost. ";
  const zh = "我们团队审阅了季度报告和新区域的部署计划，并同意下周跟进关于容量和成本的其余问题。";
  const pii = ["ada.lovelace@example.com", "+86 138 1234 5678", "4111 1111 1111 1111", "DE89 3704 0044 0532 0130 00", "110101199003074514", "192.168.10.24", "sk-proj-Q7wErTy9UiOp1AsDfGhJkL2ZxCvBnM", "123-45-6789"];
  let text = "";
  let i = 0;
  while (countTokens(text) < 2000) {
    text += (i % 2 === 0 ? en : zh) + (i % 3 === 0 ? ` Contact: ${pii[(i / 3) % pii.length]}. ` : "");
    i++;
  }
  return text;
}

async function inputLatency(): Promise<{ p50: number; p95: number; baseline: number; tokens: number }> {
  const engine = new RuleEngine();
  const rules = new RulesModerationBackend("rules", engine);
  const moderate: Moderate = (_model, texts) => rules.classify(texts);
  const policy = compilePolicy(parseGuardPolicy(INPUT_POLICY));
  const content = longMessage();
  const request: ChatRequest = {
    model: "m",
    messages: [{ role: "system", content: "You are helpful." }, { role: "user", content, parts: [{ type: "text", text: content }] }],
    sampling: { temperature: 1, topP: 1, seed: undefined, presencePenalty: 0, frequencyPenalty: 0, logitBias: new Map() },
    maxTokens: 100, stop: [], n: 1, tools: [], toolChoice: "auto", parallelToolCalls: true, responseFormat: { type: "text" }, topLogprobs: undefined, reasoningEffort: undefined, priority: "interactive",
  };
  const signal = new AbortController().signal;
  const times: number[] = [];
  for (let i = 0; i < RUNS + 20; i++) {
    const started = performance.now();
    await new ChatGuard(policy, moderate, []).checkRequest(request, "m", signal);
    if (i >= 20) times.push(performance.now() - started);
  }
  // The same request's cost without a policy: the guard is not created at all (a map lookup).
  const base: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    await Promise.resolve(request);
    base.push(performance.now() - started);
  }
  return { p50: percentile(times, 50), p95: percentile(times, 95), baseline: percentile(base, 50), tokens: countTokens(content) };
}

/** The guard's CPU per streamed token: a 4-character chunk at a time through the output checks. */
async function outputCpuPerToken(): Promise<number> {
  const policy = compilePolicy(parseGuardPolicy(OUTPUT_POLICY));
  const text = longMessage();
  const chunks = text.match(/[\s\S]{1,4}/g) ?? [];
  const signal = new AbortController().signal;
  const run = async (): Promise<void> => {
    async function* parts(): AsyncGenerator<ChatStreamPart> {
      for (const c of chunks) yield { type: "text-delta", choice: 0, text: c };
      yield { type: "finish", choice: 0, finishReason: "stop" };
    }
    const guarded = new ChatGuard(policy, async () => [], []).guardStream(parts(), signal);
    for (let r = await guarded.next(); !r.done; r = await guarded.next());
  };
  const bare = async (): Promise<void> => {
    async function* parts(): AsyncGenerator<ChatStreamPart> {
      for (const c of chunks) yield { type: "text-delta", choice: 0, text: c };
    }
    for await (const _ of parts()) void _;
  };
  const cpu = async (f: () => Promise<void>): Promise<number> => {
    const start = process.cpuUsage();
    for (let i = 0; i < 20; i++) await f();
    const used = process.cpuUsage(start);
    return (used.user + used.system) / (20 * chunks.length);
  };
  await run();
  return Math.max(0, (await cpu(run)) - (await cpu(bare)));
}

async function outputThroughput(): Promise<{ on: number[]; off: number[] }> {
  const yaml = (policy: boolean): string =>
    `models:\n  - id: stories\n    path: ${JSON.stringify(STORIES)}\n` + (policy ? `guardrails:\n  projects:\n    proj_default: ${JSON.stringify(OUTPUT_POLICY)}\n` : "");
  const on = await startBenchServer({ configYaml: yaml(true), sequences: 1 });
  const off = await startBenchServer({ configYaml: yaml(false), sequences: 1 });
  const rates = { on: [] as number[], off: [] as number[] };
  try {
    const body = { model: "stories", messages: [{ role: "user", content: "Once upon a time" }], max_tokens: TOKENS, temperature: 0.8, seed: 1 };
    for (const s of [on, off]) await streamCompletion(s.url, body);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, server] of (round % 2 === 0 ? [["on", on], ["off", off]] : [["off", off], ["on", on]]) as ["on" | "off", typeof on][]) {
        for (let i = 0; i < REQUESTS; i++) {
          const r = await streamCompletion(server.url, { ...body, seed: i });
          if (r.status !== 200) throw new Error(`status ${r.status}`);
          rates[name].push(r.completionTokens / ((r.totalMs - r.ttftMs) / 1000));
        }
      }
    }
  } finally {
    await on.stop();
    await off.stop();
  }
  return rates;
}

async function main(): Promise<void> {
  const input = await inputLatency();
  const cpuPerToken = await outputCpuPerToken();
  const rates = await outputThroughput();
  const onRate = median(rates.on);
  const offRate = median(rates.off);
  const drop = 1 - onRate / offRate;
  const lines = [
    `## bench:guardrails (${new Date().toISOString().slice(0, 10)})`,
    "",
    `- Machine: ${machineFacts()}`,
    `- \`npm run bench:guardrails -- --runs ${RUNS} --rounds ${ROUNDS} --requests ${REQUESTS} --tokens ${TOKENS}\``,
    `- Input: a chat request with a ${input.tokens}-token user message (English and Chinese, with emails, phones, cards, an IBAN, PRC ids, IPs, keys and SSNs), checked by PII redaction (all 8 types), 60 banned phrases and rule-engine moderation; ${RUNS} runs in this process.`,
    `- Output: two \`modelport serve\` processes on stories260K (1 thread, 1 sequence), one whose project has an output policy (PII redaction of every type and 60 banned phrases, on the stream) and one without; ${ROUNDS} alternating rounds of ${REQUESTS} streamed answers of up to ${TOKENS} tokens each; tokens/s counted from the first token to the last.`,
    "",
    "| measure | value | target |",
    "|---|---|---|",
    `| input checks added, p50 | **${input.p50.toFixed(2)} ms** | ≤ 2 ms (${input.p50 <= 2 ? "pass" : "fail"}) |`,
    `| input checks added, p95 | ${input.p95.toFixed(2)} ms | |`,
    `| streamed tokens/s with output policy (median) | ${onRate.toFixed(0)} | |`,
    `| streamed tokens/s without (median) | ${offRate.toFixed(0)} | |`,
    `| tokens/s lost to the output checks | **${(drop * 100).toFixed(1)} %** | ≤ 5 % (${drop <= 0.05 ? "pass" : "fail"}) |`,
    `| output checks' CPU per streamed chunk (4 characters, in process) | ${cpuPerToken.toFixed(1)} µs | |`,
    "",
    `stories260K streams far faster than a real model (over 2,000 tokens/s on one core), so a fixed cost per token weighs more here than it would at 20–50 tokens/s: at ${cpuPerToken.toFixed(1)} µs per chunk the checks cost ${((cpuPerToken / 1e6) * 50 * 100).toFixed(3)} % of a core at 50 tokens/s.`,
  ];
  const section = lines.join("\n");
  console.log(section);
  appendResults(section);
}

await main();
