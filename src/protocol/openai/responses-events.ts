import type { ResponseObject } from "./responses-render.ts";
import type { ContainerFileCitation, FileCitation, OutputTextPart, ResponseOutputItem, UrlCitation } from "./responses-types.ts";

// The Responses API's stream events, as the builder in responses-stream.ts emits them.

/** A log probability as the text delta and done events carry it. */
export interface EventLogprob {
  token: string;
  logprob: number;
  top_logprobs: { token: string; logprob: number }[];
}

/** An event that carries the whole response. */
export interface ResponseLifecycleEvent {
  type: "response.created" | "response.in_progress" | "response.completed" | "response.incomplete" | "response.failed";
  response: ResponseObject;
  sequence_number: number;
}

/** An output item started or finished. */
export interface ResponseOutputItemEvent {
  type: "response.output_item.added" | "response.output_item.done";
  output_index: number;
  item: ResponseOutputItem;
  sequence_number: number;
}

/** A content part of a message started or finished. */
export interface ResponseContentPartEvent {
  type: "response.content_part.added" | "response.content_part.done";
  item_id: string;
  output_index: number;
  content_index: number;
  part: OutputTextPart;
  sequence_number: number;
}

/** More text of a message. */
export interface ResponseTextDeltaEvent {
  type: "response.output_text.delta";
  item_id: string;
  output_index: number;
  content_index: number;
  delta: string;
  logprobs: EventLogprob[];
  /** Random padding against payload-size side channels, unless the client turned it off. */
  obfuscation?: string;
  sequence_number: number;
}

/** The whole text of a message part. */
export interface ResponseTextDoneEvent {
  type: "response.output_text.done";
  item_id: string;
  output_index: number;
  content_index: number;
  text: string;
  logprobs: EventLogprob[];
  sequence_number: number;
}

/** More arguments of a function call. */
export interface ResponseFunctionCallArgumentsDeltaEvent {
  type: "response.function_call_arguments.delta";
  item_id: string;
  output_index: number;
  delta: string;
  obfuscation?: string;
  sequence_number: number;
}

/** The whole arguments of a function call. */
export interface ResponseFunctionCallArgumentsDoneEvent {
  type: "response.function_call_arguments.done";
  item_id: string;
  output_index: number;
  name: string;
  arguments: string;
  sequence_number: number;
}

/** A file search call started, is searching, or finished. */
export interface ResponseFileSearchCallEvent {
  type: "response.file_search_call.in_progress" | "response.file_search_call.searching" | "response.file_search_call.completed";
  output_index: number;
  item_id: string;
  sequence_number: number;
}

/** A web search call started, is searching, or finished. */
export interface ResponseWebSearchCallEvent {
  type: "response.web_search_call.in_progress" | "response.web_search_call.searching" | "response.web_search_call.completed";
  output_index: number;
  item_id: string;
  sequence_number: number;
}

/** An MCP server's tools being listed, a call of one, and its arguments. */
export type ResponseMcpEvent =
  | { type: "response.mcp_list_tools.in_progress" | "response.mcp_list_tools.completed" | "response.mcp_list_tools.failed"; output_index: number; item_id: string; sequence_number: number }
  | { type: "response.mcp_call.in_progress" | "response.mcp_call.completed" | "response.mcp_call.failed"; output_index: number; item_id: string; sequence_number: number }
  | { type: "response.mcp_call_arguments.delta"; output_index: number; item_id: string; delta: string; sequence_number: number }
  | { type: "response.mcp_call_arguments.done"; output_index: number; item_id: string; arguments: string; sequence_number: number };

/** A partial render of an image the `image_generation` tool is making. */
export interface ResponseImageGenerationPartialEvent {
  type: "response.image_generation_call.partial_image";
  output_index: number;
  item_id: string;
  partial_image_index: number;
  partial_image_b64: string;
  sequence_number: number;
}

/** An image being made by the `image_generation` tool. */
export interface ResponseImageGenerationCallEvent {
  type: "response.image_generation_call.in_progress" | "response.image_generation_call.generating" | "response.image_generation_call.completed";
  output_index: number;
  item_id: string;
  sequence_number: number;
}

/** A code interpreter call started, is running its code, or finished. */
export interface ResponseCodeInterpreterCallEvent {
  type: "response.code_interpreter_call.in_progress" | "response.code_interpreter_call.interpreting" | "response.code_interpreter_call.completed";
  output_index: number;
  item_id: string;
  sequence_number: number;
}

/** The code of a code interpreter call as the model writes it, and whole. */
export type ResponseCodeInterpreterCodeEvent =
  | { type: "response.code_interpreter_call_code.delta"; output_index: number; item_id: string; delta: string; sequence_number: number }
  | { type: "response.code_interpreter_call_code.done"; output_index: number; item_id: string; code: string; sequence_number: number };

/** A citation added to a message's text. */
export interface ResponseOutputTextAnnotationAddedEvent {
  type: "response.output_text.annotation.added";
  item_id: string;
  output_index: number;
  content_index: number;
  annotation_index: number;
  annotation: FileCitation | ContainerFileCitation | UrlCitation;
  sequence_number: number;
}

/** An error in the stream, outside the response object. */
export interface ResponseErrorEvent {
  type: "error";
  code: string | null;
  message: string;
  param: string | null;
  sequence_number: number;
}

/** One event of a streamed response. */
export type ResponseStreamEvent =
  | ResponseLifecycleEvent
  | ResponseOutputItemEvent
  | ResponseContentPartEvent
  | ResponseTextDeltaEvent
  | ResponseTextDoneEvent
  | ResponseFunctionCallArgumentsDeltaEvent
  | ResponseFunctionCallArgumentsDoneEvent
  | ResponseFileSearchCallEvent
  | ResponseCodeInterpreterCallEvent
  | ResponseWebSearchCallEvent
  | ResponseMcpEvent
  | ResponseImageGenerationCallEvent
  | ResponseImageGenerationPartialEvent
  | ResponseCodeInterpreterCodeEvent
  | ResponseOutputTextAnnotationAddedEvent
  | ResponseErrorEvent;
