import { prefixedId } from "../../core/ids.ts";
import type { ResponseStreamBuilder, ResponseStreamEvent } from "./responses-stream.ts";

// The image_generation tool's item and stream events, on the response builder's generic items.

/** An `image_generation_call` starts: `response.output_item.added` and `.in_progress`. Returns its id. */
export function startImageGeneration(builder: ResponseStreamBuilder, events: ResponseStreamEvent[]): string {
  const id = prefixedId("ig_", 48);
  builder.openItem({ type: "image_generation_call", id, status: "in_progress", result: null }, (index) => [{ type: "response.image_generation_call.in_progress", output_index: index, item_id: id }], events);
  return id;
}

/** The image is being made: `response.image_generation_call.generating`. */
export function imageGenerating(builder: ResponseStreamBuilder, id: string, events: ResponseStreamEvent[]): void {
  builder.updateItem(
    id,
    (item, index) => {
      if (item.type !== "image_generation_call") return [];
      item.status = "generating";
      return [{ type: "response.image_generation_call.generating", output_index: index, item_id: id }];
    },
    events,
  );
}

/** A partial render of the image: `response.image_generation_call.partial_image`. */
export function imagePartial(builder: ResponseStreamBuilder, id: string, b64: string, index: number, events: ResponseStreamEvent[]): void {
  builder.updateItem(id, (item, output) => (item.type === "image_generation_call" ? [{ type: "response.image_generation_call.partial_image", output_index: output, item_id: id, partial_image_index: index, partial_image_b64: b64 }] : []), events);
}

/** The image (base64) is made, or it failed: `response.image_generation_call.completed` (when made), then done. */
export function finishImageGeneration(builder: ResponseStreamBuilder, id: string, b64: string | undefined, events: ResponseStreamEvent[]): void {
  builder.updateItem(
    id,
    (item, index) => {
      if (item.type !== "image_generation_call") return [];
      item.status = b64 === undefined ? "failed" : "completed";
      item.result = b64 ?? null;
      return b64 === undefined ? [] : [{ type: "response.image_generation_call.completed", output_index: index, item_id: id }];
    },
    events,
  );
  builder.closeItem(id, events);
}
