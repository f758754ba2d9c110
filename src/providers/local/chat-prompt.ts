import {
  JinjaTemplateChatWrapper,
  LlamaText,
  resolveChatWrapper,
  specializedChatWrapperTypeNames,
  type ChatHistoryItem,
  type ChatWrapper,
  type LlamaModel,
  type SpecializedChatWrapperTypeName,
} from "node-llama-cpp";
import type { ChatMessage } from "../../core/chat.ts";

/** How a model's prompt is rendered, for logs and `modelport models`. */
export interface ChatFormat {
  wrapper: ChatWrapper;
  /** Where the format came from: the GGUF's own template, a config override, or the fallback. */
  source: "gguf" | "config" | "fallback";
}

/** The markers around a reasoning model's thinking, when its format has them (e.g. `<think>`). */
export interface ThoughtMarkers {
  prefix: LlamaText;
  suffix: LlamaText;
}

/** The format's thought markers; undefined for models that do not reason. */
export function thoughtMarkers(format: ChatFormat): ThoughtMarkers | undefined {
  const thought = format.wrapper.settings.segments?.thought;
  if (thought === undefined || thought.suffix === undefined) return undefined;
  // "openedOnStart": the format's own prompt already opens the thinking block.
  const prefix = typeof thought.prefix === "object" && "type" in thought.prefix ? LlamaText([]) : LlamaText(thought.prefix);
  return { prefix, suffix: LlamaText(thought.suffix) };
}

function isSpecializedName(name: string): name is SpecializedChatWrapperTypeName {
  return (specializedChatWrapperTypeNames as readonly string[]).includes(name);
}

/**
 * Picks the chat format: a config override (a built-in wrapper name such as `chatML`, or a Jinja
 * template), else the GGUF's own `tokenizer.chat_template`, else node-llama-cpp's detection from the
 * file name and architecture, which ends in the plain `### Human` / `### Assistant` format.
 */
export function resolveChatFormat(model: LlamaModel, override: string | undefined): ChatFormat {
  if (override !== undefined) {
    if (isSpecializedName(override)) {
      return { wrapper: resolveChatWrapper({ type: override, tokenizer: model.tokenizer, fileInfo: model.fileInfo }) ?? fail(override), source: "config" };
    }
    return { wrapper: new JinjaTemplateChatWrapper({ template: override, tokenizer: model.tokenizer }), source: "config" };
  }
  const hasTemplate = typeof model.fileInfo.metadata.tokenizer?.chat_template === "string";
  return { wrapper: resolveChatWrapper(model), source: hasTemplate ? "gguf" : "fallback" };
}

function fail(name: string): never {
  throw new Error(`Chat template '${name}' could not be resolved`);
}

/**
 * Converts canonical messages to node-llama-cpp's chat history, ending with an open model turn.
 * Tool calls and results must already be rendered as text (see `withToolsRendered`).
 */
export function toChatHistory(messages: readonly ChatMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = messages.map((message): ChatHistoryItem => {
    switch (message.role) {
      case "system":
        return { type: "system", text: message.content };
      case "assistant":
        return { type: "model", response: message.content === "" ? [] : [message.content] };
      case "user":
      case "tool":
        return { type: "user", text: message.content };
    }
  });
  history.push({ type: "model", response: [] });
  return history;
}

/** The rendered prompt and the plain-text stop triggers the format defines. */
export interface RenderedPrompt {
  text: LlamaText;
  stopStrings: string[];
}

/** Renders messages with the model's chat format. */
export function renderChatPrompt(format: ChatFormat, messages: readonly ChatMessage[]): RenderedPrompt {
  const state = format.wrapper.generateContextState({ chatHistory: toChatHistory(messages) });
  const stopStrings: string[] = [];
  for (const trigger of state.stopGenerationTriggers) {
    const text = LlamaText(trigger);
    // Special-token triggers (EOS, EOT) end generation in the engine itself; keep only text ones.
    if (text.values.every((v) => typeof v === "string")) {
      const s = text.toString();
      if (s !== "" && !stopStrings.includes(s)) stopStrings.push(s);
    }
  }
  return { text: state.contextText, stopStrings };
}
