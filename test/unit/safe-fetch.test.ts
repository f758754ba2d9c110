import assert from "node:assert/strict";
import { lookup } from "node:dns/promises";
import { createServer, type Server } from "node:http";
import { hostname } from "node:os";
import { after, before, describe, it } from "node:test";
import { FetchRefused, isPrivateAddress, safeFetch, type FetchPolicy } from "../../src/providers/web/safe-fetch.ts";

// The fetch policy of web_search (and MCP servers): real HTTP servers on loopback, one allow-listed.

let allowed: Server;
let other: Server;
let allowedPort = 0;
let otherPort = 0;
let policy: FetchPolicy;

before(async () => {
  allowed = createServer((req, res) => {
    if (req.url === "/page") return void res.writeHead(200, { "content-type": "text/html" }).end("<p>hello</p>");
    if (req.url === "/to-private") return void res.writeHead(302, { location: `http://127.0.0.1:${otherPort}/` }).end();
    if (req.url === "/loop") return void res.writeHead(302, { location: "/loop" }).end();
    if (req.url === "/big") return void res.writeHead(200, { "content-type": "text/html" }).end("x".repeat(5000));
    if (req.url === "/binary") return void res.writeHead(200, { "content-type": "application/octet-stream" }).end("\0\0");
    if (req.url === "/slow") return void setTimeout(() => res.writeHead(200, { "content-type": "text/html" }).end("late"), 2000);
    res.writeHead(404).end();
  });
  other = createServer((_req, res) => res.writeHead(200, { "content-type": "text/html" }).end("private"));
  for (const s of [allowed, other]) await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  allowedPort = (allowed.address() as { port: number }).port;
  otherPort = (other.address() as { port: number }).port;
  policy = { allowPrivate: [`127.0.0.1:${allowedPort}`], timeoutMs: 800, maxBytes: 1000, maxRedirects: 3 };
});
after(async () => {
  allowed.closeAllConnections();
  for (const s of [allowed, other]) await new Promise<void>((r) => s.close(() => r()));
});

async function refused(url: string, reason: FetchRefused["reason"], init: Parameters<typeof safeFetch>[2] = {}): Promise<void> {
  await assert.rejects(safeFetch(url, policy, init), (e: unknown) => e instanceof FetchRefused && e.reason === reason, `${url} should be refused (${reason})`);
}

describe("safe fetching", () => {
  it("knows which addresses are not the public internet", () => {
    for (const a of ["127.0.0.1", "10.1.2.3", "172.20.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "::1", "::", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "224.0.0.1"]) assert.ok(isPrivateAddress(a), a);
    for (const a of ["1.1.1.1", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]) assert.ok(!isPrivateAddress(a), a);
  });

  it("fetches an allow-listed host, and refuses the same host on another port", async () => {
    const page = await safeFetch(`http://127.0.0.1:${allowedPort}/page`, policy);
    assert.equal(page.body.toString(), "<p>hello</p>");
    assert.equal(page.contentType, "text/html");
    await refused(`http://127.0.0.1:${otherPort}/`, "private_address");
    await refused(`http://[::1]:${otherPort}/`, "private_address");
    await refused(`http://localhost:${otherPort}/`, "private_address");
  });

  it("refuses a DNS name that resolves to a private address, at connect time", async (t) => {
    const name = hostname();
    const resolved = await lookup(name).catch(() => undefined);
    if (resolved === undefined || !isPrivateAddress(resolved.address)) return t.skip(`${name} does not resolve to a private address here`);
    await refused(`http://${name}:${otherPort}/`, "private_address");
  });

  it("refuses other schemes, credentials, a redirect to a private address and redirect loops", async () => {
    await refused("file:///etc/passwd", "scheme");
    await refused("ftp://example.com/", "scheme");
    await refused(`http://user:pw@127.0.0.1:${allowedPort}/page`, "scheme");
    await refused(`http://127.0.0.1:${allowedPort}/to-private`, "private_address");
    await refused(`http://127.0.0.1:${allowedPort}/loop`, "too_many_redirects");
  });

  it("limits size, content type and time", async () => {
    await refused(`http://127.0.0.1:${allowedPort}/big`, "too_large");
    await refused(`http://127.0.0.1:${allowedPort}/binary`, "content_type", { accept: ["text/html"] });
    await refused(`http://127.0.0.1:${allowedPort}/slow`, "timeout");
  });
});
