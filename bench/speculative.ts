/**
 * bench/speculative: tokens/s of speculative decoding against the same engine without prediction,
 * side by side in one run, rounds alternating between three servers on the same model:
 *   plain  — the default: one position per decode, no drafter
 *   exact  — `deterministicSampling`, which speculative decoding implies: per-position seeds and at
 *            least two positions per decode (a guessed token), no drafter; the reference for outputs
 *   lookup — prompt lookup (`promptLookup: true`, node-llama-cpp's InputLookupTokenPredictor)
 *   draft  — a draft model (`draftModel`, DraftSequenceTokenPredictor); here the only model with the
 *            same vocabulary is the target itself, so it shows the mechanism's cost, not a speed-up
 * Cases: "copy" regenerates a passage the prompt already holds twice (the model's own greedy text,
 * so its continuation copies it), at temperature 0 and 0.8; "fresh" continues short story openings,
 * where there is nothing to copy. Every request's text is checked byte for byte against exact's.
 * Targets (issue 16): copy ≥ 1.5× plain tokens/s with lookup, fresh ≥ 0.97×.
 *
 *   npm run bench:speculative [-- --rounds 5 --tokens 300 --model ../shared/models/stories260K.gguf]
 */
import { parseArgs } from "node:util";
import { appendResults, machineFacts, median } from "./machine.ts";
import { BENCH_KEY, STORIES, startBenchServer, type BenchServer } from "./server.ts";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "5" },
    tokens: { type: "string", default: "300" },
    model: { type: "string", default: STORIES },
  },
});
const ROUNDS = Number(values.rounds);
const TOKENS = Number(values.tokens);
const MODEL = values.model;
const MODEL_ID = (MODEL.split("/").pop() ?? MODEL).replace(/\.gguf$/i, "");

interface Completion {
  text: string;
  tokens: number;
  ms: number;
}

async function complete(server: BenchServer, body: Record<string, unknown>): Promise<Completion> {
  const started = performance.now();
  const response = await fetch(`${server.url}/v1/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${BENCH_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ model: MODEL_ID, max_tokens: TOKENS, ...body }),
  });
  const json = (await response.json()) as { choices: { text: string }[]; usage: { completion_tokens: number } };
  if (!response.ok) throw new Error(`HTTP ${response.status}: ${JSON.stringify(json)}`);
  return { text: json.choices[0]?.text ?? "", tokens: json.usage.completion_tokens, ms: performance.now() - started };
}

async function speculationStats(server: BenchServer): Promise<{ drafted: number; accepted: number }> {
  const health = (await (await fetch(`${server.url}/health`)).json()) as { models: Record<string, { speculative_drafted?: number; speculative_accepted?: number }> };
  const stats = health.models[MODEL_ID];
  return { drafted: stats?.speculative_drafted ?? 0, accepted: stats?.speculative_accepted ?? 0 };
}

const OPENING = "Once upon a time, there was a little girl named Lily.";
const FRESH = ["Tom had a big red ball.", "The sun was hot and the dog was tired.", "Sara wanted to bake a cake for her mom.", "A little bird sat on a tall tree."];

async function main(): Promise<void> {
  const env = { MODELPORT_PROMPT_LOOKUP: "false" };
  const plain = await startBenchServer({ model: MODEL, env });
  const exact = await startBenchServer({ model: MODEL, env: { ...env, MODELPORT_DETERMINISTIC_SAMPLING: "true" } });
  const lookup = await startBenchServer({ model: MODEL, env: { MODELPORT_PROMPT_LOOKUP: "true" } });
  const draft = await startBenchServer({
    configYaml: `models:\n  - id: ${MODEL_ID}\n    path: ${JSON.stringify(MODEL)}\n    draftModel: ${JSON.stringify(MODEL)}\n`,
    env,
  });
  const servers = { plain, exact, lookup, draft } as const;
  try {
    // The copy prompt: the opening, the model's greedy continuation, and the opening again, repeated
    // until the model's continuation is the passage it follows (tiny models copy weakly at first).
    let passage = (await complete(plain, { prompt: OPENING, temperature: 0 })).text;
    let copyPrompt = `${OPENING}${passage}\n\n${OPENING}`;
    for (let i = 0; i < 4; i++) {
      const next = (await complete(plain, { prompt: copyPrompt, temperature: 0 })).text;
      if (next === passage) break;
      passage = next;
      copyPrompt = `${OPENING}${passage}\n\n${OPENING}${passage}\n\n${OPENING}`;
    }
    const cases = {
      "copy, temperature 0": (round: number) => ({ prompt: copyPrompt, temperature: 0, seed: round }),
      "copy, temperature 0.8": (round: number) => ({ prompt: copyPrompt, temperature: 0.8, seed: round }),
      "fresh, temperature 0.8": (round: number) => ({ prompt: FRESH[round % FRESH.length], temperature: 0.8, seed: round }),
    } as const;
    for (const server of Object.values(servers)) await complete(server, cases["fresh, temperature 0.8"](99));

    const rows: string[] = [];
    const verdicts: string[] = [];
    let mismatches = 0;
    for (const [name, body] of Object.entries(cases)) {
      const rates: Record<keyof typeof servers, number[]> = { plain: [], exact: [], lookup: [], draft: [] };
      const before = { lookup: await speculationStats(lookup), draft: await speculationStats(draft) };
      for (let round = 0; round < ROUNDS; round++) {
        const order = (Object.keys(servers) as (keyof typeof servers)[]).sort(() => (round % 2 === 0 ? 1 : -1));
        const answers: Partial<Record<keyof typeof servers, Completion>> = {};
        for (const key of order) {
          const answer = await complete(servers[key], body(round));
          answers[key] = answer;
          rates[key].push((answer.tokens / answer.ms) * 1000);
        }
        for (const key of ["lookup", "draft"] as const) if (answers[key]?.text !== answers.exact?.text) mismatches++;
      }
      const after = { lookup: await speculationStats(lookup), draft: await speculationStats(draft) };
      const acceptance = (key: "lookup" | "draft"): string => {
        const drafted = after[key].drafted - before[key].drafted;
        const accepted = after[key].accepted - before[key].accepted;
        return drafted === 0 ? "no drafts" : `${((100 * accepted) / drafted).toFixed(0)} % of ${drafted}`;
      };
      const p = median(rates.plain);
      const x = median(rates.exact);
      const l = median(rates.lookup);
      const d = median(rates.draft);
      rows.push(`| ${name} | ${p.toFixed(0)} | ${x.toFixed(0)} (${(x / p).toFixed(2)}) | ${l.toFixed(0)} | **${(l / p).toFixed(2)}** | ${acceptance("lookup")} | ${d.toFixed(0)} | ${(d / p).toFixed(2)} | ${acceptance("draft")} |`);
      if (name.startsWith("copy")) verdicts.push(`${name}: lookup ${(l / p).toFixed(2)}× (target ≥ 1.5×) ${l / p >= 1.5 ? "pass" : "**FAIL**"}`);
      else verdicts.push(`${name}: lookup ${(l / p).toFixed(2)}× (target ≥ 0.97×) ${l / p >= 0.97 ? "pass" : "**FAIL**"}`);
    }
    const section = `## speculative: prompt lookup and a draft model vs plain decoding (${new Date().toISOString()})

${machineFacts()}; model ${MODEL_ID}, ${TOKENS} tokens per completion, ${ROUNDS} rounds per case, servers alternating, medians of tokens/s.

| case | plain tok/s | exact tok/s (/ plain) | lookup tok/s | lookup / plain | lookup drafts accepted | draft-model tok/s | draft / plain | draft-model drafts accepted |
|---|---|---|---|---|---|---|---|---|
${rows.join("\n")}

${verdicts.map((v) => `- ${v}`).join("\n")}
- outputs of lookup and draft byte-identical to exact's: ${mismatches === 0 ? "all" : `**${mismatches} differed**`} (${ROUNDS * Object.keys(cases).length * 2} compared)
`;
    console.log(section);
    appendResults(section);
  } finally {
    for (const server of Object.values(servers)) await server.stop();
  }
}

await main();
