import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { estimateImageTokens, imageSize } from "../../src/protocol/openai/image-input.ts";
import { parseChatCompletionRequest } from "../../src/protocol/openai/chat-completions-parse.ts";

function png(width: number, height: number): string {
  const header = Buffer.alloc(33);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(header, 0);
  header.writeUInt32BE(13, 8);
  header.write("IHDR", 12, "latin1");
  header.writeUInt32BE(width, 16);
  header.writeUInt32BE(height, 20);
  return `data:image/png;base64,${header.toString("base64")}`;
}

describe("image input", () => {
  it("counts tokens with OpenAI's published formula", () => {
    assert.equal(estimateImageTokens("low", { width: 4096, height: 4096 }), 85);
    assert.equal(estimateImageTokens("high", { width: 1024, height: 1024 }), 765);
    assert.equal(estimateImageTokens("high", { width: 2048, height: 4096 }), 1105);
    assert.equal(estimateImageTokens("high", { width: 512, height: 512 }), 255);
    assert.equal(estimateImageTokens("auto", undefined), 765, "an image of unknown size counts as 1024×1024");
  });

  it("reads the size of PNG and GIF data", () => {
    assert.deepEqual(imageSize(Buffer.from(png(640, 480).split(",")[1]!, "base64")), { width: 640, height: 480 });
    const gif = Buffer.from("GIF89a\x10\x00\x20\x00", "latin1");
    assert.deepEqual(imageSize(gif), { width: 16, height: 32 });
  });

  it("normalises image_url parts and the flat image form to the same part", () => {
    const url = png(2048, 4096);
    const parsed = parseChatCompletionRequest({
      model: "m",
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "What is this?" },
            { type: "image_url", image_url: { url, detail: "high" } },
            { type: "image", image: url, detail: "high" },
            { type: "image_url", image_url: { url: "https://example.com/cat.png" } },
          ],
        },
      ],
    });
    const message = parsed.request.messages[0]!;
    assert.equal(message.role, "user");
    if (message.role !== "user") return;
    assert.equal(message.content, "What is this?");
    const [, a, b, c] = message.parts;
    assert.deepEqual({ ...a, param: "" }, { ...b, param: "" });
    assert.deepEqual(a, { type: "image", url, detail: "high", estimatedTokens: 1105, param: "messages[0].content[1]" });
    assert.deepEqual(c, { type: "image", url: "https://example.com/cat.png", detail: "auto", estimatedTokens: 765, param: "messages[0].content[3]" });
  });
});
