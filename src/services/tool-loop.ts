import type { ChatMessage, ChatRequest, ChatStreamPart, ToolCall, Usage } from "../core/chat.ts";
import type { ChatRun } from "./chat-service.ts";

/** What a server-run tool gives back: the text the model reads, and what the response shows of the call. */
export interface ToolRun<D> {
  forModel: string;
  detail: D;
  /** The response ends after this step without asking the model again (a call that waits for the client's approval). */
  stop?: boolean;
}

/** A tool the server runs when the model calls its function. */
export interface ServerFunction<D> {
  /** Runs a call; `progress` shows what it has so far (an image's partial renders) while it runs. */
  run(args: string, signal: AbortSignal, progress: (detail: D) => void): Promise<ToolRun<D>>;
}

/** What the loop yields: the model's own parts, and the server-run calls as they happen. */
export type ToolLoopPart<D> =
  | ChatStreamPart
  | { type: "tool-start"; name: string; callId: string }
  /** The call's arguments so far, as the model writes them. */
  | { type: "tool-args"; name: string; callId: string; args: string }
  | { type: "tool-run"; name: string; callId: string; args: string }
  | { type: "tool-progress"; name: string; callId: string; detail: D }
  | { type: "tool-done"; name: string; callId: string; detail: D };

function addUsage(a: Usage | undefined, b: Usage): Usage {
  if (a === undefined) return b;
  return {
    promptTokens: a.promptTokens + b.promptTokens,
    completionTokens: a.completionTokens + b.completionTokens,
    cachedTokens: a.cachedTokens + b.cachedTokens,
    reasoningTokens: a.reasoningTokens + b.reasoningTokens,
  };
}

/**
 * Runs the model and the server's built-in tools it calls (model → tool → result → model): `first`
 * is the model's first run, with the tools' functions among its tools; `start` starts each next run.
 * Calls to `functions` are run here and given back to the model, which is asked again, until it
 * answers without calling one, calls a client function (the response then ends for the client to
 * answer it), or the calls run out (`maxCalls`: it is then asked with `tool_choice: "none"`, and a
 * call it makes anyway is not obeyed). Usage parts are summed over the runs, yielded and reported to
 * `onUsage` as a running total.
 */
export async function* runToolLoop<D>(
  first: ChatRun,
  request: ChatRequest,
  ctx: {
    functions: ReadonlyMap<string, ServerFunction<D>>;
    maxCalls: number;
    signal: AbortSignal;
    start: (request: ChatRequest) => Promise<ChatRun>;
    onUsage: (usage: Usage) => void;
  },
): AsyncGenerator<ToolLoopPart<D>> {
  let run = first;
  let messages = request.messages;
  let calls = 0;
  let total: Usage | undefined;
  for (;;) {
    const pending = new Map<number, { id: string; name: string; args: string }>();
    const ignored = new Set<number>();
    const mayRun = calls < ctx.maxCalls;
    let text = "";
    let finish: ChatStreamPart | undefined;
    let clientCalls = false;
    try {
      for (let step = run.first; !step.done; step = await run.parts.next()) {
        const part = step.value;
        if (part.type === "usage") {
          // The builder and the meter keep the last usage they are given: give them the sum of all runs.
          total = addUsage(total, part.usage);
          ctx.onUsage(total);
          yield { type: "usage", usage: total };
          continue;
        }
        if (part.type === "served-by") {
          yield part;
          continue;
        }
        if (part.choice !== 0) continue;
        if (part.type === "tool-call-start" && ctx.functions.has(part.name)) {
          if (!mayRun) ignored.add(part.index);
          else {
            pending.set(part.index, { id: part.id, name: part.name, args: "" });
            yield { type: "tool-start", name: part.name, callId: part.id };
          }
          continue;
        }
        if (part.type === "tool-call-delta" && ignored.has(part.index)) continue;
        const call = part.type === "tool-call-delta" ? pending.get(part.index) : undefined;
        if (call !== undefined && part.type === "tool-call-delta") {
          call.args += part.arguments;
          yield { type: "tool-args", name: call.name, callId: call.id, args: call.args };
          continue;
        }
        if (part.type === "finish" && pending.size > 0) {
          finish = part;
          continue;
        }
        if (part.type === "tool-call-start") clientCalls = true;
        if (part.type === "text-delta") text += part.text;
        yield part;
      }
    } finally {
      await run.parts.return?.(undefined);
    }
    if (pending.size === 0) return;
    const toolCalls: ToolCall[] = [];
    const results: ChatMessage[] = [];
    let stop = false;
    for (const call of pending.values()) {
      yield { type: "tool-run", name: call.name, callId: call.id, args: call.args };
      const fn = ctx.functions.get(call.name) as ServerFunction<D>;
      // The call runs while what it reports of its progress is yielded as it comes.
      const progress: D[] = [];
      const state: { ran?: ToolRun<D>; failed?: { error: unknown }; wake?: () => void } = {};
      void fn.run(call.args, ctx.signal, (detail) => (progress.push(detail), state.wake?.())).then(
        (ran) => ((state.ran = ran), state.wake?.()),
        (error: unknown) => ((state.failed = { error }), state.wake?.()),
      );
      while ((state.ran === undefined && state.failed === undefined) || progress.length > 0) {
        const next = progress.shift();
        if (next !== undefined) {
          yield { type: "tool-progress", name: call.name, callId: call.id, detail: next };
          continue;
        }
        await new Promise<void>((resolve) => (state.wake = resolve));
        state.wake = undefined;
      }
      if (state.failed !== undefined) throw state.failed.error;
      const ran = state.ran as ToolRun<D>;
      yield { type: "tool-done", name: call.name, callId: call.id, detail: ran.detail };
      stop ||= ran.stop === true;
      toolCalls.push({ id: call.id, name: call.name, arguments: call.args });
      results.push({ role: "tool", content: ran.forModel, toolCallId: call.id });
      calls++;
    }
    if (clientCalls || stop) {
      // The client's functions were called too: the response ends for it to answer them.
      if (finish !== undefined) yield finish;
      return;
    }
    messages = [...messages, { role: "assistant", content: text, toolCalls }, ...results];
    run = await ctx.start({ ...request, messages, toolChoice: calls >= ctx.maxCalls ? "none" : "auto" });
  }
}
