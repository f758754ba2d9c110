import { createServer, type Server } from "node:http";

/** A real HTTP server on 127.0.0.1 (a fake search engine, a fake web page), with its port and URL. */
export interface Loopback {
  server: Server;
  port: number;
  url: string;
}

/** Serves `handler` on a free loopback port. */
export async function serveLoopback(handler: Parameters<typeof createServer>[1]): Promise<Loopback> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  return { server, port, url: `http://127.0.0.1:${port}` };
}

/** The `webSearch` config of a test server on a fake SearXNG, with the loopback hosts it may reach. */
export function searxngConfig(searxUrl: string, allowPrivate: readonly string[]) {
  return {
    backend: "searxng" as const,
    baseUrl: searxUrl,
    allowPrivate: [...allowPrivate],
    json: { queryParam: "q", resultsPath: "results", urlField: "url", titleField: "title", snippetField: "snippet" },
    maxResults: 5,
    fetchTimeoutMs: 5000,
    maxPageBytes: 1 << 20,
    maxRedirects: 5,
    pricePerCallUsd: 0.01,
  };
}
