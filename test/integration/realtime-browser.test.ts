import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { chromium, type Browser } from "playwright-core";
import { startTestServer, type TestServer } from "../helpers/server.ts";

// A real browser (Debian's Chromium, driven by playwright-core) talks to /v1/realtime the way a web
// page does: no headers, the key as a subprotocol, here an ephemeral secret made by the server side.

const CHROMIUM = "/usr/bin/chromium";
const KEY = "sk-browser-test-key";
// Without the background-networking flags Chromium keeps dialing Google's hosts, which this machine refuses.
const FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

describe("realtime from a browser page", { skip: existsSync(CHROMIUM) ? false : "Debian's chromium is not installed (scripts/bootstrap.sh test installs it as root)" }, () => {
  let server: TestServer;
  let browser: Browser;
  before(async () => {
    server = await startTestServer({ env: { MODELPORT_API_KEYS: KEY } });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it("opens a session with an ephemeral secret as its subprotocol, and hears a spoken answer with its transcript", async () => {
    const made = await fetch(`${server.baseURL}/realtime/client_secrets`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ session: { type: "realtime", model: "stories", output_modalities: ["audio"], max_output_tokens: 30, audio: { output: { voice: "marin" } } } }),
    });
    const { value } = (await made.json()) as { value: string };
    const page = await browser.newPage();
    await page.goto(`${server.url}/health`);
    const result = await page.evaluate(
      async ({ url, secret }) => {
        const ws = new WebSocket(url, ["realtime", `openai-insecure-api-key.${secret}`]);
        const types: string[] = [];
        let transcript = "";
        let audioBytes = 0;
        await new Promise<void>((resolve, reject) => {
          ws.onerror = () => reject(new Error("socket error"));
          ws.onmessage = ({ data }) => {
            const event = JSON.parse(String(data)) as { type: string; delta?: string };
            types.push(event.type);
            if (event.type === "session.created") {
              ws.send(JSON.stringify({ type: "conversation.item.create", item: { type: "message", role: "user", content: [{ type: "input_text", text: "Once upon a time" }] } }));
              ws.send(JSON.stringify({ type: "response.create" }));
            }
            if (event.type === "response.output_audio_transcript.delta") transcript += event.delta ?? "";
            if (event.type === "response.output_audio.delta") audioBytes += atob(event.delta ?? "").length;
            if (event.type === "response.done") resolve();
          };
        });
        const protocol = ws.protocol;
        ws.close();
        return { types, transcript, audioBytes, protocol };
      },
      { url: `${server.url.replace("http", "ws")}/v1/realtime`, secret: value },
    );
    assert.equal(result.protocol, "realtime");
    assert.equal(result.types[0], "session.created");
    assert.ok(result.types.includes("response.output_audio.delta"));
    assert.ok(result.transcript.length > 0);
    assert.ok(result.audioBytes > 24_000, `${result.audioBytes} bytes of 24 kHz PCM`);
    await page.close();
  });
});
