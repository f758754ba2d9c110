import { waitFor, type TestServer } from "./server.ts";

/**
 * A reader of the usage record each request just made, whose endpoint is `LIKE endpoints`: records
 * are written once a handler has finished, a moment after the client has its answer, so it waits
 * for one more record than it has seen.
 */
export function lastUsageRecord(server: () => TestServer, endpoints = "%"): () => Promise<Record<string, unknown>> {
  let recorded = 0;
  return async () => {
    let rows: Record<string, unknown>[] = [];
    await waitFor(async () => {
      await server().meter.flush();
      rows = await server().storage.db.all("SELECT * FROM usage_records WHERE endpoint LIKE ? ORDER BY created_at DESC, rowid DESC", [endpoints]);
      return rows.length > recorded;
    });
    recorded = rows.length;
    return rows[0]!;
  };
}
