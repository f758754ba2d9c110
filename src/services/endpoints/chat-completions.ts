import { prefixedId, unixSeconds } from "../../core/ids.ts";
import { estimateTokens } from "../../core/token-estimate.ts";
import { parseChatCompletionRequest, type ParsedChatCompletionRequest } from "../../protocol/openai/chat-completions-parse.ts";
import { renderChatCompletion, type CompletionEnvelope } from "../../protocol/openai/chat-completions-render.ts";
import { systemFingerprint } from "../../protocol/openai/fingerprint.ts";
import type { ChatRun, ChatService } from "../chat-service.ts";
import type { Endpoint, EndpointAnswer, EndpointCall } from "./endpoint.ts";

/** A chat generation under way: its envelope (id, model, fingerprint) is fixed once the serving model is known. */
export interface StartedChatCompletion {
  envelope: CompletionEnvelope;
  run: ChatRun;
}

/**
 * `POST /v1/chat/completions` as a use case. `start` resolves, admits and starts a generation (the
 * HTTP route streams from it); `run` collects it into a `chat.completion` object.
 */
export class ChatCompletionsEndpoint implements Endpoint<ParsedChatCompletionRequest> {
  readonly #chat: ChatService;
  readonly #engineVersion: string;

  constructor(chat: ChatService, engineVersion: string) {
    this.#chat = chat;
    this.#engineVersion = engineVersion;
  }

  parse(body: unknown): ParsedChatCompletionRequest {
    return parseChatCompletionRequest(body);
  }

  /** Admits and starts; errors up to the first generated part are thrown, so they still get a status. */
  async start(call: EndpointCall, parsed: ParsedChatCompletionRequest): Promise<StartedChatCompletion> {
    const model = this.#chat.resolve(parsed.request.model);
    await call.admit(parsed.request.model, model, estimateTokens(parsed.request));
    call.served(model);
    const run = await this.#chat.start({ ...parsed.request, priority: call.priority }, call.signal, (usage) => call.usage(usage));
    call.served(run.model);
    const id = run.model.descriptor.id;
    const envelope: CompletionEnvelope = { id: prefixedId("chatcmpl-"), created: unixSeconds(), model: id, systemFingerprint: systemFingerprint(id, this.#engineVersion) };
    return { envelope, run };
  }

  async run(call: EndpointCall, parsed: ParsedChatCompletionRequest): Promise<EndpointAnswer> {
    const started = await this.start(call, parsed);
    const result = await this.#chat.collect(started.run, parsed.request);
    call.usage(result.usage);
    return { kind: "json", status: 200, body: renderChatCompletion(started.envelope, result.choices, result.usage, parsed) };
  }
}
