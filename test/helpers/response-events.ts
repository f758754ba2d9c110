import assert from "node:assert/strict";
import type { ResponseStreamEvent } from "../../src/protocol/openai/responses-stream.ts";
import { assertSchema } from "./openapi.ts";

/** The spec's schema for each event type the Responses stream builder emits. */
const EVENT_SCHEMAS: Record<string, string> = {
  "response.created": "ResponseCreatedEvent",
  "response.in_progress": "ResponseInProgressEvent",
  "response.output_item.added": "ResponseOutputItemAddedEvent",
  "response.output_item.done": "ResponseOutputItemDoneEvent",
  "response.content_part.added": "ResponseContentPartAddedEvent",
  "response.content_part.done": "ResponseContentPartDoneEvent",
  "response.output_text.delta": "ResponseTextDeltaEvent",
  "response.output_text.done": "ResponseTextDoneEvent",
  "response.output_text.annotation.added": "ResponseOutputTextAnnotationAddedEvent",
  "response.function_call_arguments.delta": "ResponseFunctionCallArgumentsDeltaEvent",
  "response.function_call_arguments.done": "ResponseFunctionCallArgumentsDoneEvent",
  "response.file_search_call.in_progress": "ResponseFileSearchCallInProgressEvent",
  "response.file_search_call.searching": "ResponseFileSearchCallSearchingEvent",
  "response.file_search_call.completed": "ResponseFileSearchCallCompletedEvent",
  "response.code_interpreter_call.in_progress": "ResponseCodeInterpreterCallInProgressEvent",
  "response.code_interpreter_call.interpreting": "ResponseCodeInterpreterCallInterpretingEvent",
  "response.code_interpreter_call.completed": "ResponseCodeInterpreterCallCompletedEvent",
  "response.code_interpreter_call_code.delta": "ResponseCodeInterpreterCallCodeDeltaEvent",
  "response.code_interpreter_call_code.done": "ResponseCodeInterpreterCallCodeDoneEvent",
  "response.web_search_call.in_progress": "ResponseWebSearchCallInProgressEvent",
  "response.web_search_call.searching": "ResponseWebSearchCallSearchingEvent",
  "response.web_search_call.completed": "ResponseWebSearchCallCompletedEvent",
  "response.mcp_list_tools.in_progress": "ResponseMCPListToolsInProgressEvent",
  "response.mcp_list_tools.completed": "ResponseMCPListToolsCompletedEvent",
  "response.mcp_list_tools.failed": "ResponseMCPListToolsFailedEvent",
  "response.mcp_call.in_progress": "ResponseMCPCallInProgressEvent",
  "response.mcp_call.completed": "ResponseMCPCallCompletedEvent",
  "response.mcp_call.failed": "ResponseMCPCallFailedEvent",
  "response.mcp_call_arguments.delta": "ResponseMCPCallArgumentsDeltaEvent",
  "response.mcp_call_arguments.done": "ResponseMCPCallArgumentsDoneEvent",
  "response.image_generation_call.in_progress": "ResponseImageGenCallInProgressEvent",
  "response.image_generation_call.generating": "ResponseImageGenCallGeneratingEvent",
  "response.image_generation_call.completed": "ResponseImageGenCallCompletedEvent",
  "response.image_generation_call.partial_image": "ResponseImageGenCallPartialImageEvent",
  "response.completed": "ResponseCompletedEvent",
  "response.incomplete": "ResponseIncompleteEvent",
  "response.failed": "ResponseFailedEvent",
  error: "ResponseErrorEvent",
};

/** Validates every event against its own schema and the union, and checks the numbering. */
export function checkEvents(events: readonly ResponseStreamEvent[]): void {
  events.forEach((event, i) => {
    const schema = EVENT_SCHEMAS[event.type];
    assert.ok(schema, `no schema for ${event.type}`);
    assertSchema(schema, event);
    assertSchema("ResponseStreamEvent", event);
    assert.equal(event.sequence_number, i, "sequence numbers start at 0 and go up by one");
  });
}
