import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { toFile } from "openai";
import type { SearchRequest } from "../../src/retrieval/types.ts";
import { CORPUS, QUERIES } from "../fixtures/retrieval-corpus.ts";
import { startTestServer, waitFor, type TestServer } from "../helpers/server.ts";

/** Recall@k: the share of a query's relevant documents found among the top k, averaged over queries. */
function recallAt(k: number, ranked: readonly (readonly string[])[]): number {
  let total = 0;
  QUERIES.forEach((q, i) => {
    const top = new Set((ranked[i] ?? []).slice(0, k));
    total += q.relevant.filter((id) => top.has(id)).length / q.relevant.length;
  });
  return total / QUERIES.length;
}

describe("retrieval quality on a labelled corpus (tiny embedding model)", () => {
  let server: TestServer;
  let storeId = "";
  const docOf = new Map<string, string>();

  before(async () => {
    server = await startTestServer();
    const ids: string[] = [];
    for (const doc of CORPUS) {
      const file = await server.client.files.create({ file: await toFile(Buffer.from(doc.text), doc.filename), purpose: "assistants" });
      docOf.set(file.id, doc.id);
      ids.push(file.id);
    }
    const store = await server.client.vectorStores.create({ name: "corpus" });
    storeId = store.id;
    await server.client.vectorStores.fileBatches.createAndPoll(storeId, { files: CORPUS.map((doc, i) => ({ file_id: ids[i] as string, attributes: doc.attributes })) }, { pollIntervalMs: 50 });
    await waitFor(async () => (await server.client.vectorStores.retrieve(storeId)).file_counts.completed === CORPUS.length, 60_000);
  });
  after(async () => {
    await server.close();
  });

  it(`has ${CORPUS.length} documents and ${QUERIES.length} labelled queries`, () => {
    assert.ok(CORPUS.length >= 40);
    assert.ok(QUERIES.length >= 30);
  });

  it("finds the relevant documents: hybrid recall@5 ≥ 0.9 and never below keywords alone", async () => {
    // The ranked document ids of each query, best first (a document's best chunk ranks it).
    const rank = async (weights: SearchRequest["weights"]): Promise<string[][]> => {
      const out: string[][] = [];
      for (const q of QUERIES) {
        const result = await server.vectorSearch.search(
          "proj_default",
          { vectorStoreIds: [storeId], queries: [q.query], maxResults: 50, filter: undefined, scoreThreshold: 0, rewriteQuery: false, weights },
          AbortSignal.timeout(30_000),
        );
        out.push([...new Set(result.hits.map((h) => docOf.get(h.fileId) as string))]);
      }
      return out;
    };
    const keyword = recallAt(5, await rank({ embedding: 0, text: 1 }));
    const vector = recallAt(5, await rank({ embedding: 1, text: 0 }));
    // Hybrid through the public endpoint, as a client sees it.
    const hybridRanked: string[][] = [];
    for (const q of QUERIES) {
      const page = await server.client.vectorStores.search(storeId, { query: q.query, max_num_results: 50 });
      hybridRanked.push([...new Set(page.data.map((h) => docOf.get(h.file_id) as string))]);
    }
    const hybrid = recallAt(5, hybridRanked);
    console.log(`recall@5 on ${QUERIES.length} queries over ${CORPUS.length} documents: BM25 ${keyword.toFixed(3)}, vectors ${vector.toFixed(3)}, hybrid ${hybrid.toFixed(3)}`);
    assert.ok(hybrid >= 0.9, `hybrid recall@5 ${hybrid}`);
    assert.ok(hybrid >= keyword, `hybrid ${hybrid} < BM25 ${keyword}`);
    // The vectors carry signal of their own: far better than chance (5 of ${CORPUS.length}).
    assert.ok(vector > (2 * 5) / CORPUS.length, `vector recall@5 ${vector}`);
  });
});
