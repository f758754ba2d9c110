import type { LlamaGrammar, LlamaModel, Token } from "node-llama-cpp";
import type { ChatStreamPart, FinishReason, TokenLogprob, ToolCall } from "../../core/chat.ts";
import { StopBuffer } from "./stop-buffer.ts";
import { TokenTextDecoder } from "./token-text-decoder.ts";
import { TOOL_CALL_CLOSE, TOOL_CALL_OPEN } from "./tool-prompt.ts";
import { ToolCallParser } from "./tool-call-parser.ts";
import type { Sampler } from "./token-sampler.ts";

/** node-llama-cpp's JSON-schema grammars end a value with four newlines; nothing inside can. */
const GRAMMAR_END = "\n\n\n\n";
/** Tokens the model may spend after a call looking for another `<tool_call>`. */
const BETWEEN_CALLS_BUDGET = 32;

/** What a choice must produce. */
export type OutputMode =
  /** Plain text, optionally held to a caller's GBNF grammar (raw completions). */
  | { type: "text"; grammar?: LlamaGrammar }
  | { type: "json"; grammar: LlamaGrammar }
  | { type: "tools"; grammar: LlamaGrammar; forced: boolean; maxCalls: number };

/** A thinking phase before the answer, for reasoning models. */
export interface ReasoningPlan {
  /** Most tokens the model may think; 0 skips thinking. */
  budget: number;
  /** Tokens that open and close the thinking block. */
  open: Token[];
  close: Token[];
  /** The plain text that closes thinking when the model writes it itself. */
  closeText: string;
}

/** Everything one choice's generation needs. */
export interface ChoicePlan {
  index: number;
  /** Prompt tokens not yet in the sequence's state. */
  input: Token[];
  /** Sampled tokens allowed in total. */
  limit: number;
  /** User stop sequences and the chat format's own plain-text stops. */
  stops: readonly string[];
  mode: OutputMode;
  reasoning: ReasoningPlan | undefined;
}

type PhaseEnd = "stop" | "trigger" | "end" | "length" | "abort";

/**
 * Generates one choice: plain text, grammar-constrained JSON, or tool calls (text until the model
 * opens `<tool_call>`, or a forced call, then the call envelope under the call grammar). Yields
 * stream parts; returns the calls made.
 */
export async function* generateChoice(
  model: LlamaModel,
  sampler: Sampler,
  plan: ChoicePlan,
  signal: AbortSignal,
): AsyncGenerator<ChatStreamPart, { toolCalls: ToolCall[]; reasoningTokens: number }> {
  const choice = plan.index;
  let lastToken: Token | undefined;
  const remaining = (): number => plan.limit - sampler.generated.length;

  /** Runs one phase, feeding decoded text through a stop buffer to `onText`. */
  async function* phase(
    input: Token[],
    grammar: LlamaGrammar | undefined,
    stops: readonly string[],
    budget: number,
    onText: (text: string, logprobs: TokenLogprob[]) => ChatStreamPart[],
  ): AsyncGenerator<ChatStreamPart, { end: PhaseEnd; stoppedBy?: string }> {
    const decoder = new TokenTextDecoder(model);
    const buffer = new StopBuffer(stops);
    let queued: TokenLogprob[] = [];
    let sampled = 0;
    let end: PhaseEnd = "end";
    let stoppedBy: string | undefined;
    for await (const { token, logprob } of sampler.phase(input, grammar)) {
      lastToken = token;
      sampled++;
      if (logprob !== undefined) queued.push(logprob);
      const { emit, stopped, stop } = buffer.push(decoder.push(token));
      if (emit !== "") {
        yield* onText(emit, queued);
        queued = [];
      }
      if (stopped) {
        end = stop === TOOL_CALL_OPEN ? "trigger" : "stop";
        stoppedBy = stop;
        break;
      }
      if (remaining() <= 0 || sampled >= budget) {
        end = "length";
        break;
      }
      if (signal.aborted) {
        end = "abort";
        break;
      }
    }
    if (end !== "stop" && end !== "trigger") {
      const { emit, stopped, stop } = buffer.push(decoder.flush());
      const rest = stopped ? emit : emit + buffer.flush();
      if (rest !== "") yield* onText(rest, queued);
      if (stopped) {
        end = stop === TOOL_CALL_OPEN ? "trigger" : "stop";
        stoppedBy = stop;
      }
    }
    return stoppedBy === undefined ? { end } : { end, stoppedBy };
  }

  const textPart = (text: string, logprobs: TokenLogprob[]): ChatStreamPart[] => [
    sampler.wantsLogprobs ? { type: "text-delta", choice, text, logprobs } : { type: "text-delta", choice, text },
  ];

  let input = plan.input;
  let reasoningTokens = 0;
  const { reasoning } = plan;
  if (reasoning !== undefined) {
    if (reasoning.budget <= 0) {
      input = [...input, ...reasoning.open, ...reasoning.close];
    } else {
      // Thinking is generated but never shown as content; past its budget the block is closed for the model.
      const before = sampler.generated.length;
      const thought = yield* phase([...input, ...reasoning.open], undefined, [reasoning.closeText], reasoning.budget, () => []);
      reasoningTokens = sampler.generated.length - before;
      if (thought.end === "end" || thought.end === "abort" || remaining() <= 0 || lastToken === undefined) {
        yield { type: "finish", choice, finishReason: thought.end === "end" ? "stop" : "length" };
        return { toolCalls: [], reasoningTokens };
      }
      input = thought.end === "stop" ? [lastToken] : [lastToken, ...reasoning.close];
    }
  }

  const { mode } = plan;
  if (mode.type !== "tools") {
    const stops = mode.type === "json" ? [...plan.stops, GRAMMAR_END] : plan.stops;
    const result = yield* phase(input, mode.grammar, stops, Number.POSITIVE_INFINITY, textPart);
    yield { type: "finish", choice, finishReason: result.end === "length" ? "length" : "stop" };
    return { toolCalls: [], reasoningTokens };
  }

  const calls: ToolCall[] = [];
  let finishReason: FinishReason = "stop";
  let inCall = mode.forced;
  if (mode.forced) input = [...input, ...model.tokenize(`${TOOL_CALL_OPEN}\n`, false, "trimLeadingSpace")];
  else {
    const result = yield* phase(input, undefined, [...plan.stops, TOOL_CALL_OPEN], Number.POSITIVE_INFINITY, textPart);
    if (result.end === "length") finishReason = "length";
    inCall = result.end === "trigger";
    input = lastToken === undefined ? [] : [lastToken];
  }

  while (inCall && calls.length < mode.maxCalls && remaining() > 0 && !signal.aborted) {
    const parser = new ToolCallParser();
    const callIndex = calls.length;
    const toParts = (events: ReturnType<ToolCallParser["push"]>): ChatStreamPart[] =>
      events.map((e) =>
        e.type === "start"
          ? { type: "tool-call-start", choice, index: callIndex, id: e.id, name: e.name }
          : { type: "tool-call-delta", choice, index: callIndex, arguments: e.text },
      );
    const result = yield* phase(input, mode.grammar, [GRAMMAR_END], Number.POSITIVE_INFINITY, (text) => toParts(parser.push(text)));
    const complete = result.end === "stop";
    const { events, arguments: args } = parser.finish(complete);
    yield* toParts(events);
    if (parser.name !== undefined) calls.push({ id: parser.id, name: parser.name, arguments: args });
    if (!complete) {
      finishReason = "length";
      break;
    }
    finishReason = "tool_calls";
    if (calls.length >= mode.maxCalls || lastToken === undefined) break;
    // Close the call as the prompt showed it, then let the model open another or end its turn.
    input = [lastToken, ...model.tokenize(`\n${TOOL_CALL_CLOSE}\n`, false, "trimLeadingSpace")];
    const between = yield* phase(input, undefined, [TOOL_CALL_OPEN], Math.min(BETWEEN_CALLS_BUDGET, remaining()), () => []);
    inCall = between.end === "trigger";
    input = lastToken === undefined ? [] : [lastToken];
  }
  if (calls.length > 0 && finishReason !== "length") finishReason = "tool_calls";
  yield { type: "finish", choice, finishReason };
  return { toolCalls: calls, reasoningTokens };
}
