/** Values a vector store file's `attributes` may hold (OpenAI: up to 16 keys). */
export type AttributeValue = string | number | boolean;
/** A vector store file's `attributes`. */
export type Attributes = Readonly<Record<string, AttributeValue>>;

/** OpenAI's ComparisonFilter. */
export interface ComparisonFilter {
  type: "eq" | "ne" | "gt" | "gte" | "lt" | "lte" | "in" | "nin";
  key: string;
  value: string | number | boolean | readonly (string | number)[];
}
/** OpenAI's CompoundFilter. */
export interface CompoundFilter {
  type: "and" | "or";
  filters: readonly AttributeFilter[];
}
/** A filter on file attributes, as the search endpoint and the file_search tool take it. */
export type AttributeFilter = ComparisonFilter | CompoundFilter;

/** One ranked hit from an index: the chunk's row id and a score (higher is better). */
export interface IndexHit {
  id: number;
  score: number;
}

/** A search over one or more vector stores, as the HTTP layer and the file_search tool ask for it. */
export interface SearchRequest {
  vectorStoreIds: readonly string[];
  /** One or more queries; each is searched and the hits are merged. */
  queries: readonly string[];
  maxResults: number;
  filter: AttributeFilter | undefined;
  /** Results scoring below this (0–1) are left out. */
  scoreThreshold: number;
  /** Rewrite natural-language queries into keyword queries before searching. */
  rewriteQuery: boolean;
  /** Reciprocal-rank-fusion weights; both default to 1. */
  weights: { embedding: number; text: number };
}

/** One result chunk, as the search endpoint and the file_search tool return it. */
export interface SearchHit {
  fileId: string;
  filename: string;
  /** 0–1, 1 best. */
  score: number;
  attributes: Attributes;
  text: string;
  vectorStoreId: string;
}

/** A search's queries as run (after any rewrite) and its hits, best first. */
export interface SearchResult {
  queries: string[];
  hits: SearchHit[];
}

/** Searches a project's vector stores (404 for a store the project cannot see). */
export interface VectorSearch {
  search(projectId: string, request: SearchRequest, signal: AbortSignal): Promise<SearchResult>;
}
