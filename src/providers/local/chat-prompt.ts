import {
  JinjaTemplateChatWrapper,
  LlamaText,
  resolveChatWrapper,
  specializedChatWrapperTypeNames,
  type ChatHistoryItem,
  type ChatModelFunctionCall,
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

function parseArguments(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Converts canonical messages to node-llama-cpp's chat history, ending with an open model turn. */
export function toChatHistory(messages: readonly ChatMessage[]): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = [];
  const pendingCalls = new Map<string, ChatModelFunctionCall>();
  for (const message of messages) {
    switch (message.role) {
      case "system":
        history.push({ type: "system", text: message.content });
        break;
      case "user":
        history.push({ type: "user", text: message.content });
        break;
      case "assistant": {
        const response: (string | ChatModelFunctionCall)[] = [];
        if (message.content !== "") response.push(message.content);
        for (const call of message.toolCalls) {
          const item: ChatModelFunctionCall = { type: "functionCall", name: call.name, params: parseArguments(call.arguments), result: undefined };
          pendingCalls.set(call.id, item);
          response.push(item);
        }
        history.push({ type: "model", response });
        break;
      }
      case "tool": {
        // The protocol layer guarantees a matching earlier call; results render inside that turn.
        const call = pendingCalls.get(message.toolCallId);
        if (call !== undefined) call.result = message.content;
        break;
      }
    }
  }
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
