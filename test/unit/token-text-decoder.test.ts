import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { getLlama, type Llama, type LlamaModel } from "node-llama-cpp";
import { TokenTextDecoder } from "../../src/providers/local/token-text-decoder.ts";
import { STORIES, TINY_RANDOM } from "../helpers/server.ts";

let llama: Llama;
const models: LlamaModel[] = [];
before(async () => {
  llama = await getLlama({ build: "never", gpu: false });
  models.push(await llama.loadModel({ modelPath: STORIES }), await llama.loadModel({ modelPath: TINY_RANDOM }));
});
after(async () => {
  for (const m of models) await m.dispose();
  await llama.dispose();
});

describe("TokenTextDecoder", () => {
  const samples = ["CentOS如何安装Nginx? 你是一名资深运维工程师", "Once upon a time, a 🐧 said: «héllo»", "介绍一下Linux\n\n- 内核\n- 发行版"];

  it("turns tokens back into the exact text one token at a time, never splitting a character", () => {
    for (const model of models) {
      for (const text of samples) {
        const tokens = model.tokenize(text);
        const decoder = new TokenTextDecoder(model);
        const pieces = tokens.map((t) => decoder.push(t));
        pieces.push(decoder.flush());
        assert.equal(pieces.join(""), model.detokenize(tokens), `${model.filename}: ${text}`);
        assert.ok(pieces.every((p) => !p.includes("\uFFFD")), "no piece carries half a character");
        assert.equal(pieces.join("").trim(), text.trim());
      }
    }
  });
});
