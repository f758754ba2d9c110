import type { ChatRequest, ChatStreamPart, FinishReason, TokenLogprob, ToolCall, Usage } from "../core/chat.ts";
import { emptyUsage } from "../core/chat.ts";
import { endSpanFailed, SpanKind, startChildSpan, withSpan } from "../core/trace-spans.ts";
import type { ChatModel } from "../providers/provider.ts";
import type { Guardrails } from "./guardrails/guardrails.ts";
import type { ModelRegistry } from "./model-registry.ts";

/** A started chat generation: the model that serves it and the stream of its parts. */
export interface ChatRun {
  model: ChatModel;
  parts: AsyncIterator<ChatStreamPart>;
  /** The first part, already awaited, so request errors surface before any byte is sent. */
  first: IteratorResult<ChatStreamPart>;
}

/** One collected choice. */
export interface CollectedChoice {
  text: string;
  finishReason: FinishReason;
  toolCalls: ToolCall[];
  logprobs: TokenLogprob[] | undefined;
}

/** A finished, collected chat generation. */
export interface ChatResult {
  model: ChatModel;
  choices: CollectedChoice[];
  usage: Usage;
}

/** Chat completions as a use case, free of HTTP and of any wire format. */
export class ChatService {
  readonly #registry: ModelRegistry;
  readonly #guardrails: Guardrails | undefined;

  /** With `guardrails`, a request that names its project runs that project's input and output checks. */
  constructor(registry: ModelRegistry, guardrails?: Guardrails) {
    this.#registry = registry;
    this.#guardrails = guardrails;
  }

  /** The model serving a public name, or a 404. */
  resolve(name: string): ChatModel {
    return this.#registry.resolve(name);
  }

  /**
   * Starts generating; throws ApiErrors for problems with the request. `onUsage` gets the tokens
   * used once the stream ends, however it ends.
   */
  async start(request: ChatRequest, signal: AbortSignal, onUsage?: (usage: Usage) => void, options: { projectId?: string } = {}): Promise<ChatRun> {
    let model = this.#registry.resolve(request.model);
    // The project's guardrails: input checks now (a block is a 400 before any model work), output checks on the stream.
    const guard = options.projectId === undefined ? undefined : await this.#guardrails?.forProject(options.projectId);
    if (guard !== undefined) request = await guard.checkRequest(request, model.descriptor.id, signal);
    // When traced, one span for the generation, up to its usage (the end of its stream, however it ends).
    const span = startChildSpan(`chat ${request.model}`, SpanKind.INTERNAL, { "gen_ai.operation.name": "chat", "gen_ai.request.model": request.model });
    const used =
      span === undefined
        ? onUsage
        : (usage: Usage): void => {
            span.setAttributes({ "modelport.model": model.descriptor.id, "gen_ai.usage.input_tokens": usage.promptTokens, "gen_ai.usage.output_tokens": usage.completionTokens });
            span.end();
            onUsage?.(usage);
          };
    try {
      return await withSpan(span, async () => {
        const streamed = model.streamChat(request, signal, used)[Symbol.asyncIterator]();
        const parts = guard === undefined ? streamed : guard.guardStream(streamed, signal);
        let first = await parts.next();
        // A fallback that took over names itself first: responses and metering report the model that served.
        while (!first.done && first.value.type === "served-by") {
          model = this.#registry.resolve(first.value.model);
          first = await parts.next();
        }
        return { model, parts, first };
      });
    } catch (error) {
      // Usage may never come for a request that failed before generating (ending twice is harmless).
      endSpanFailed(span, error);
      throw error;
    }
  }

  /** Runs a generation to the end and collects every choice. */
  async complete(request: ChatRequest, signal: AbortSignal, onUsage?: (usage: Usage) => void, options: { projectId?: string } = {}): Promise<ChatResult> {
    return this.collect(await this.start(request, signal, onUsage, options), request);
  }

  /** Reads a started generation to its end and collects every choice. */
  async collect(run: ChatRun, request: Pick<ChatRequest, "n" | "topLogprobs">): Promise<ChatResult> {
    const collector = new ChoiceCollector(request);
    for (let step = run.first; !step.done; step = await run.parts.next()) collector.add(step.value);
    return { model: run.model, choices: collector.choices, usage: collector.usage };
  }
}

/**
 * Collects a generation's parts into finished choices and its usage: what `complete` returns, and
 * what a streamed completion adds up to (a stored streamed completion is assembled this way).
 */
export class ChoiceCollector {
  readonly choices: CollectedChoice[];
  usage: Usage = emptyUsage();

  constructor(request: Pick<ChatRequest, "n" | "topLogprobs">) {
    const wantLogprobs = request.topLogprobs !== undefined;
    this.choices = Array.from({ length: request.n }, () => ({
      text: "",
      finishReason: "stop",
      toolCalls: [],
      logprobs: wantLogprobs ? [] : undefined,
    }));
  }

  add(part: ChatStreamPart): void {
    if (part.type === "usage") {
      this.usage = part.usage;
      return;
    }
    if (part.type === "served-by") return;
    const choice = this.choices[part.choice];
    if (choice === undefined) return;
    switch (part.type) {
      case "text-delta":
        choice.text += part.text;
        if (part.logprobs) choice.logprobs?.push(...part.logprobs);
        break;
      case "tool-call-start":
        choice.toolCalls[part.index] = { id: part.id, name: part.name, arguments: "" };
        break;
      case "tool-call-delta": {
        const call = choice.toolCalls[part.index];
        if (call) call.arguments += part.arguments;
        break;
      }
      case "finish":
        choice.finishReason = part.finishReason;
        break;
    }
  }
}
