import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ApiError } from "../../src/core/errors.ts";
import { imageFamily, imagePrice, pricedAs } from "../../src/core/image-pricing.ts";
import { ImageStreamScanner, parseImageForm, parseImageGenerationRequest, readImagesResponse } from "../../src/protocol/openai/images.ts";

const param = (p: string) => (e: unknown) => e instanceof ApiError && e.status === 400 && e.param === p;

describe("image prices", () => {
  it("knows OpenAI's per-image prices by family, quality and size, dated snapshots too", () => {
    assert.equal(imageFamily("dall-e-3"), "dall-e-3");
    assert.equal(imageFamily("gpt-image-1-mini"), "gpt-image-1-mini");
    assert.equal(imageFamily("gpt-image-1-2025-04-23"), "gpt-image-1");
    assert.equal(imageFamily("gpt-image-1.5"), undefined);
    assert.equal(imageFamily("flux"), undefined);
    assert.equal(imagePrice("dall-e-2", "256x256", undefined), 0.016);
    assert.equal(imagePrice("dall-e-3", "1024x1792", "hd"), 0.12);
    assert.equal(imagePrice("dall-e-3", undefined, "auto"), 0.04);
    assert.equal(imagePrice("gpt-image-1", "1536x1024", "high"), 0.25);
    assert.equal(imagePrice("gpt-image-1", "auto", "auto"), 0.042);
    assert.equal(imagePrice("gpt-image-1-mini", "1024x1024", "low"), 0.005);
    assert.equal(imagePrice("dall-e-2", "4096x4096", undefined), undefined);
    assert.deepEqual(pricedAs("dall-e-2", undefined, "hd"), { size: "1024x1024", quality: "standard" });
  });
});

describe("image requests", () => {
  it("validates a generation, applying the spec's default model", () => {
    const r = parseImageGenerationRequest({ prompt: "x", n: 2, size: "2048x2048", quality: "high", stream: true, partial_images: 3 });
    assert.deepEqual([r.model, r.modelGiven, r.n, r.size, r.quality, r.stream], ["dall-e-2", false, 2, "2048x2048", "high", true]);
    assert.throws(() => parseImageGenerationRequest({ prompt: "x", size: "big" }), param("size"));
    assert.throws(() => parseImageGenerationRequest({ prompt: "x", n: 0 }), param("n"));
    assert.throws(() => parseImageGenerationRequest({ prompt: "x", partial_images: -1 }), param("partial_images"));
    assert.throws(() => parseImageGenerationRequest({ prompt: "x", extra: 1 }), param("extra"));
    assert.throws(() => parseImageGenerationRequest([]), param("body"));
  });

  it("validates an edit's and a variation's form fields and files", () => {
    const edit = parseImageForm("/images/edits", [["prompt", "p"], ["n", "3"], ["stream", "true"], ["quality", "low"]], ["image[]", "image[]", "mask"]);
    assert.deepEqual([edit.model, edit.n, edit.stream, edit.quality], ["gpt-image-1.5", 3, true, "low"]);
    assert.throws(() => parseImageForm("/images/edits", [["prompt", "p"]], Array.from({ length: 17 }, () => "image[]")), param("image"));
    assert.throws(() => parseImageForm("/images/edits", [["prompt", "p"], ["prompt", "q"]], ["image"]), param("prompt"));
    assert.throws(() => parseImageForm("/images/edits", [["prompt", "p"], ["output_compression", "101"]], ["image"]), param("output_compression"));
    assert.throws(() => parseImageForm("/images/edits", [["prompt", "p"]], ["image", "prompt"]), param("prompt"));
    assert.throws(() => parseImageForm("/images/variations", [], ["image[]"]), param("image[]"));
    assert.throws(() => parseImageForm("/images/variations", [["n", "11"]], ["image"]), param("n"));
    assert.equal(parseImageForm("/images/variations", [["model", "dall-e-2"]], ["image"]).modelGiven, true);
  });
});

describe("image answers", () => {
  it("reads an ImagesResponse's images, choices and tokens", () => {
    const outcome = readImagesResponse(JSON.stringify({ created: 1, data: [{ b64_json: "QQ==", revised_prompt: "r" }, { b64_json: "Qg==" }], size: "1024x1536", quality: "high", usage: { input_tokens: 3, output_tokens: 9, total_tokens: 12 } }));
    assert.deepEqual([outcome?.images, outcome?.size, outcome?.quality, outcome?.usage?.completionTokens, outcome?.first?.revisedPrompt], [2, "1024x1536", "high", 9, "r"]);
    assert.equal(readImagesResponse("{\"error\":{}}"), undefined);
    assert.equal(readImagesResponse("not json"), undefined);
  });

  it("counts a stream's completed images across chunk boundaries, ignoring partial images", () => {
    const scanner = new ImageStreamScanner();
    const partial = `event: image_generation.partial_image\ndata: ${JSON.stringify({ type: "image_generation.partial_image", b64_json: "x", partial_image_index: 0 })}\n\n`;
    const done = (tokens: number) => `data: ${JSON.stringify({ type: "image_generation.completed", b64_json: "x", size: "1024x1024", quality: "low", usage: { input_tokens: 1, output_tokens: tokens, total_tokens: tokens + 1 } })}\n\n`;
    const text = Buffer.from(partial + done(100) + done(200).trimEnd());
    for (let i = 0; i < text.length; i += 7) scanner.push(text.subarray(i, i + 7));
    scanner.end();
    assert.deepEqual([scanner.images, scanner.size, scanner.quality, scanner.usage?.completionTokens, scanner.usage?.promptTokens], [2, "1024x1024", "low", 300, 2]);
  });
});
