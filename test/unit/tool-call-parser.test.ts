import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ToolCallParser } from "../../src/providers/local/tool-call-parser.ts";

/** Pushes the text in pieces and returns the streamed argument text and the final arguments. */
function parse(pieces: readonly string[], complete: boolean): { streamed: string; args: string; name: string | undefined } {
  const parser = new ToolCallParser();
  let streamed = "";
  for (const piece of pieces) for (const e of parser.push(piece)) if (e.type === "arguments") streamed += e.text;
  const end = parser.finish(complete);
  for (const e of end.events) if (e.type === "arguments") streamed += e.text;
  return { streamed, args: end.arguments, name: parser.name };
}

describe("ToolCallParser", () => {
  it("streams the arguments without the envelope's closing brace", () => {
    const r = parse(['{"name": "get_weather", ', '"arguments": { "city"', ': "Paris"\n    }', " }"], true);
    assert.equal(r.name, "get_weather");
    assert.equal(r.args, '{ "city": "Paris"\n    }');
    assert.equal(r.streamed, r.args);
  });

  it("drops the envelope's brace when the length limit cut in right after it", () => {
    const r = parse(['{"name": "get_weather", "arguments": { "city": "Paris"\n    }', " }"], false);
    assert.equal(r.args, '{ "city": "Paris"\n    }');
    assert.deepEqual(JSON.parse(r.args), { city: "Paris" });
    assert.equal(r.streamed, r.args);
  });

  it("keeps arguments cut short as they are", () => {
    assert.equal(parse(['{"name": "f", "arguments": {"a": {"b": 1}}'], false).args, '{"a": {"b": 1}}');
    assert.equal(parse(['{"name": "f", "arguments": {"a": "x'], false).args, '{"a": "x');
    assert.equal(parse(['{"name": "f", "arguments": {"a": 1}'], false).args, '{"a": 1}');
  });
});
