import type { SpokenPart } from "../../core/audio.ts";
import type { ChatStreamPart } from "../../core/chat.ts";
import { unsupportedParameter } from "../../core/errors.ts";
import { prefixedId, unixSeconds } from "../../core/ids.ts";
import { estimateTokens } from "../../core/token-estimate.ts";
import { parseChatCompletionRequest, type ParsedChatCompletionRequest } from "../../protocol/openai/chat-completions-parse.ts";
import { renderChatCompletion, type CitationsPart, type CompletedChoice, type CompletionEnvelope } from "../../protocol/openai/chat-completions-render.ts";
import type { NumberedSource } from "../../protocol/openai/responses-stream.ts";
import { systemFingerprint } from "../../protocol/openai/fingerprint.ts";
import type { ChatModel } from "../../providers/provider.ts";
import { withAudioTokens, type ChatAudio } from "../chat-audio.ts";
import type { ChatRun, ChatService } from "../chat-service.ts";
import { citeSources, withCitations, type ChatWebSearch } from "../chat-web-search.ts";
import type { Endpoint, EndpointAnswer, EndpointCall } from "./endpoint.ts";

/** A chat generation under way: its envelope (id, model, fingerprint) is fixed once the serving model is known. */
export interface StartedChatCompletion {
  envelope: CompletionEnvelope;
  run: ChatRun;
  /**
   * What to stream, `first` then `parts`: the model's parts, with spoken audio before each choice's
   * finish when the request asked for audio, and each choice's web citations before its finish when
   * the request searched the web.
   */
  first: IteratorResult<ChatStreamPart | SpokenPart | CitationsPart>;
  parts: AsyncIterator<ChatStreamPart | SpokenPart | CitationsPart>;
  /** Each choice's spoken answer id, when audio was asked for. */
  audioIds: readonly string[] | undefined;
}

/** What `run` needs beyond what the route streams. */
interface StartedWithAudio extends StartedChatCompletion {
  speaker: ChatModel | undefined;
  audioInput: number;
  /** The web pages the model was given to cite, when the request searched the web. */
  sources: readonly NumberedSource[];
}

/**
 * `POST /v1/chat/completions` as a use case. `start` resolves, admits and starts a generation (the
 * HTTP route streams from it); `run` collects it into a `chat.completion` object. Audio in and out
 * goes through `ChatAudio`, so any text model hears and speaks; `web_search_options` through
 * `ChatWebSearch`, so any model answers from the web, citing it.
 */
export class ChatCompletionsEndpoint implements Endpoint<ParsedChatCompletionRequest> {
  readonly #chat: ChatService;
  readonly #engineVersion: string;
  readonly #audio: ChatAudio | undefined;
  readonly #webSearch: ChatWebSearch | undefined;

  /** Without `webSearch` (no search engine configured), `web_search_options` is refused. */
  constructor(chat: ChatService, engineVersion: string, audio?: ChatAudio, webSearch?: ChatWebSearch) {
    this.#chat = chat;
    this.#engineVersion = engineVersion;
    this.#audio = audio;
    this.#webSearch = webSearch;
  }

  parse(body: unknown): ParsedChatCompletionRequest {
    const parsed = parseChatCompletionRequest(body);
    if (parsed.webSearch !== undefined && this.#webSearch === undefined) {
      throw unsupportedParameter("web_search_options", "is not available: this server has no search engine configured (webSearch.backend)");
    }
    return parsed;
  }

  /** Admits and starts; errors up to the first generated part are thrown, so they still get a status. */
  async start(call: EndpointCall, parsed: ParsedChatCompletionRequest): Promise<StartedWithAudio> {
    const model = this.#chat.resolve(parsed.request.model);
    const audio = this.#audio;
    const wantsAudio = parsed.audioOutput !== undefined || (audio?.needsHearing(parsed) ?? false);
    if (wantsAudio && audio === undefined) throw new Error("ChatCompletionsEndpoint was built without ChatAudio");
    const speaker = parsed.audioOutput === undefined ? undefined : await audio?.speaker(parsed.audioOutput, call.signal);
    await call.admit(parsed.request.model, model, estimateTokens(parsed.request));
    call.served(model);
    const heard = audio?.needsHearing(parsed) ? await audio.hear(parsed, call.principal.projectId, call.signal) : { request: parsed.request, audioInputTokens: 0 };
    let spoken = 0;
    let last: Parameters<EndpointCall["usage"]>[0] | undefined;
    const meter = (usage: Parameters<EndpointCall["usage"]>[0]): void => {
      last = usage;
      call.usage(withAudioTokens(usage, heard.audioInputTokens, spoken));
    };
    // The web is searched once admitted (each search is priced), with any spoken question heard.
    const web = parsed.webSearch;
    const grounded =
      web !== undefined && this.#webSearch !== undefined
        ? await this.#webSearch.ground(heard.request, web, call.principal, model.capabilities.contextSize, call.signal)
        : { request: heard.request, sources: [] };
    const run = await this.#chat.start({ ...grounded.request, priority: call.priority }, call.signal, meter, { projectId: call.principal.projectId });
    call.served(run.model);
    const id = run.model.descriptor.id;
    const envelope: CompletionEnvelope = { id: prefixedId("chatcmpl-"), created: unixSeconds(), model: id, systemFingerprint: systemFingerprint(id, this.#engineVersion) };
    const audioIds = parsed.audioOutput === undefined ? undefined : Array.from({ length: parsed.request.n }, () => prefixedId("audio_"));
    let parts: AsyncIterator<ChatStreamPart | SpokenPart> = run.parts;
    let first: IteratorResult<ChatStreamPart | SpokenPart> = run.first;
    if (audio !== undefined && (speaker !== undefined || heard.audioInputTokens > 0)) {
      const modelParts = (async function* (): AsyncGenerator<ChatStreamPart> {
        for (let step = run.first; !step.done; step = await run.parts.next()) yield step.value;
      })();
      const output = parsed.audioOutput;
      const withSpeech: AsyncIterable<ChatStreamPart | SpokenPart> =
        speaker !== undefined && output !== undefined && audioIds !== undefined
          ? audio.speakStream(modelParts, speaker, audioIds, output, call.principal.projectId, call.signal, (tokens) => {
              spoken = tokens;
              if (last !== undefined) meter(last);
            })
          : modelParts;
      // The streamed usage counts the audio too, as the metered one does.
      parts = (async function* (): AsyncGenerator<ChatStreamPart | SpokenPart> {
        for await (const part of withSpeech) yield part.type === "usage" ? { ...part, usage: withAudioTokens(part.usage, heard.audioInputTokens, spoken) } : part;
      })()[Symbol.asyncIterator]();
      first = await parts.next();
    }
    const started = { envelope, run, audioIds, speaker, audioInput: heard.audioInputTokens, sources: grounded.sources };
    if (grounded.sources.length === 0) return { ...started, first, parts };
    const cited = withCitations(first, parts, grounded.sources);
    return { ...started, first: await cited.next(), parts: cited };
  }

  async run(call: EndpointCall, parsed: ParsedChatCompletionRequest): Promise<EndpointAnswer> {
    const started = await this.start(call, parsed);
    const result = await this.#chat.collect(started.run, parsed.request);
    const choices: CompletedChoice[] = result.choices.map((choice) => ({ ...choice, annotations: citeSources(choice.text, started.sources) }));
    let spoken = 0;
    if (this.#audio !== undefined && started.speaker !== undefined && parsed.audioOutput !== undefined) {
      for (const [i, choice] of result.choices.entries()) {
        if (choice.text === "") continue;
        const answer = await this.#audio.speakAll(started.speaker, started.audioIds?.[i] ?? prefixedId("audio_"), choice.text, parsed.audioOutput, call.principal.projectId, call.signal);
        spoken += answer.tokens;
        choices[i] = { ...choice, audio: answer };
      }
    }
    const usage = withAudioTokens(result.usage, started.audioInput, spoken);
    call.usage(usage);
    return { kind: "json", status: 200, body: renderChatCompletion(started.envelope, choices, usage, parsed) };
  }
}
