import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { TokenLogprob } from "../../src/core/chat.ts";
import type { TextCompletionPart, TextCompletionRequest } from "../../src/core/completion.ts";
import { ApiError } from "../../src/core/errors.ts";
import type { LocalModel } from "../../src/providers/local/local-model.ts";
import { loadTestModel, type LoadedTestModel } from "../helpers/local-model.ts";
import { LLAMA_GUARD_GRAMMAR, LLAMA_GUARD_UNSAFE_GRAMMAR, SHIELDGEMMA_GRAMMAR } from "../../src/services/moderation/guard-prompts.ts";

let loaded: LoadedTestModel;
let model: LocalModel;
before(async () => {
  loaded = await loadTestModel();
  model = loaded.model;
});
after(() => loaded.dispose());

function request(overrides: Partial<TextCompletionRequest>): TextCompletionRequest {
  return {
    model: "stories",
    prompts: ["Once upon a time"],
    suffix: undefined,
    n: 1,
    maxTokens: 16,
    stop: [],
    sampling: { temperature: 0, topP: 1, seed: 7, presencePenalty: 0, frequencyPenalty: 0, logitBias: new Map() },
    logprobs: undefined,
    promptLogprobs: false,
    priority: "interactive",
    ...overrides,
  };
}

interface Choice {
  text: string;
  logprobs: TokenLogprob[];
  finish: string | undefined;
}

async function run(req: TextCompletionRequest): Promise<{ choices: Choice[]; promptTokens: number }> {
  const choices: Choice[] = [];
  let promptTokens = 0;
  for await (const part of model.completeText(req, new AbortController().signal) as AsyncIterable<TextCompletionPart>) {
    if (part.type === "usage") promptTokens = part.usage.promptTokens;
    if (part.type !== "text-delta" && part.type !== "finish") continue;
    const choice = (choices[part.choice] ??= { text: "", logprobs: [], finish: undefined });
    if (part.type === "finish") choice.finish = part.finishReason;
    else {
      choice.text += part.text;
      choice.logprobs.push(...(part.logprobs ?? []));
    }
  }
  return { choices, promptTokens };
}

const SAFE_OR_UNSAFE = 'root ::= "safe" | "unsafe"';

describe("grammar on raw completions (local engine)", () => {
  it("forces the output to one of the grammar's strings, greedy and sampled", async () => {
    const prompts = ["Once upon a time", "The cat sat on the", "Is this text safe?"];
    const greedy = await run(request({ prompts, grammar: SAFE_OR_UNSAFE }));
    const sampled = await run(request({ prompts, n: 6, grammar: SAFE_OR_UNSAFE, sampling: { temperature: 1.5, topP: 1, seed: 11, presencePenalty: 0, frequencyPenalty: 0, logitBias: new Map() } }));
    for (const choice of [...greedy.choices, ...sampled.choices]) {
      assert.ok(choice.text === "safe" || choice.text === "unsafe", JSON.stringify(choice.text));
      assert.equal(choice.finish, "stop");
    }
    assert.equal(sampled.choices.length, 18);
  });

  it("keeps constraints with logprobs, reporting the raw distribution at each step", async () => {
    const { choices } = await run(request({ prompts: ["Once upon a time", "Is it"], grammar: SAFE_OR_UNSAFE, logprobs: 5 }));
    for (const choice of choices) {
      assert.ok(choice.text === "safe" || choice.text === "unsafe", choice.text);
      assert.ok(choice.logprobs.length > 0);
      assert.equal(choice.logprobs.map((l) => l.token).join(""), choice.text);
      for (const lp of choice.logprobs) {
        assert.ok(Number.isFinite(lp.logprob) && lp.logprob <= 0, String(lp.logprob));
        assert.equal(lp.topLogprobs.length, 5);
        const top = lp.topLogprobs.map((t) => t.logprob);
        assert.deepEqual(top, [...top].sort((a, b) => b - a));
        // The sampled token is no likelier than the best raw alternative.
        assert.ok(lp.logprob <= (top[0] ?? 0) + 1e-9);
      }
    }
  });

  it("leaves output unchanged without a grammar", async () => {
    const plain = await run(request({}));
    const undef = await run(request({ grammar: undefined }));
    assert.equal(undef.choices[0]?.text, plain.choices[0]?.text);
    assert.ok(plain.choices[0]?.text !== "safe" && plain.choices[0]?.text !== "unsafe");
  });

  it("answers a grammar llama.cpp cannot parse with a 400 naming 'grammar'", async () => {
    await assert.rejects(run(request({ grammar: "root ::= (" })), (error: unknown) => {
      assert.ok(error instanceof ApiError);
      assert.equal(error.status, 400);
      assert.equal(error.param, "grammar");
      return true;
    });
  });

  it("holds the guard models' own grammars", async () => {
    const sampling = { temperature: 1.5, topP: 1, seed: 3, presencePenalty: 0, frequencyPenalty: 0, logitBias: new Map<number, number>() };
    const code = "S(1[0-4]?|[2-9])";
    const full = new RegExp(`^(safe|unsafe\\n${code}(,${code})*)$`);
    const guard = await run(request({ prompts: ["Once upon a time", "Bad words"], n: 4, maxTokens: 24, grammar: LLAMA_GUARD_GRAMMAR, sampling, logprobs: 5 }));
    const forced = await run(request({ n: 4, maxTokens: 24, grammar: LLAMA_GUARD_UNSAFE_GRAMMAR, sampling }));
    for (const choice of [...guard.choices, ...forced.choices]) {
      // Cut off by max_tokens, an answer is a prefix of one the grammar accepts.
      if (choice.finish === "stop") assert.match(choice.text, full);
      else assert.ok(/^(s|un)/.test(choice.text), JSON.stringify(choice.text));
    }
    for (const choice of forced.choices) assert.ok(choice.text.startsWith("unsafe\nS"), JSON.stringify(choice.text));
    const yesNo = await run(request({ prompts: ["Is it", "Are you"], n: 3, maxTokens: 1, grammar: SHIELDGEMMA_GRAMMAR, sampling, logprobs: 5 }));
    for (const choice of yesNo.choices) assert.ok("Yes".startsWith(choice.text) || "No".startsWith(choice.text), choice.text);
  });

  it("reads control-token text as tokens only when asked, without doubling the BOS", async () => {
    const bare = await run(request({ prompts: ["Once upon a time"], maxTokens: 1 }));
    const special = await run(request({ prompts: ["<s>Once upon a time"], maxTokens: 1, specialTokens: true }));
    const literal = await run(request({ prompts: ["<s>Once upon a time"], maxTokens: 1 }));
    assert.equal(special.promptTokens, bare.promptTokens);
    assert.ok(literal.promptTokens > bare.promptTokens);
  });
});
