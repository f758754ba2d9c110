import { num, str, strOrNull, type Param, type Row, type SqlDb } from "./sql-db.ts";

/** A stored response: its wire object, the request that made it, and the input items it was given. */
export interface StoredResponse {
  id: string;
  projectId: string;
  /** Unix seconds. */
  createdAt: number;
  status: string;
  background: boolean;
  previousResponseId: string | null;
  conversationId: string | null;
  /** The request body as the client sent it (JSON), so a background job can be run again after a restart. */
  request: string;
  /** This response's own input items (JSON array, each with an id). */
  inputItems: string;
  /** The `response` object (JSON). */
  body: string;
}

/** A conversation (its items are kept apart, in order). */
export interface StoredConversation {
  id: string;
  projectId: string;
  createdAt: number;
  metadata: Record<string, string>;
}

/** One item of a conversation, in wire form (JSON). */
export interface StoredItem {
  id: string;
  createdAt: number;
  item: string;
}

/** A stored chat completion. */
export interface StoredChatCompletion {
  id: string;
  projectId: string;
  createdAt: number;
  model: string;
  metadata: Record<string, string>;
  /** The request's messages and settings (JSON). */
  request: string;
  /** The `chat.completion` object (JSON). */
  completion: string;
}

/** How a list is paged: after an id, at most `limit`, in creation order. */
export interface PageQuery {
  after?: string | undefined;
  limit: number;
  order: "asc" | "desc";
}

/** One page of results, and whether more follow. */
export interface Page<T> {
  data: T[];
  hasMore: boolean;
}

let lastSeq = 0;

/** Microseconds since the epoch, strictly increasing within this process: the creation order of stored objects. */
export function nextSeq(): number {
  lastSeq = Math.max(Date.now() * 1000, lastSeq + 1);
  return lastSeq;
}


function toResponse(r: Row): StoredResponse {
  return {
    id: str(r.id),
    projectId: str(r.project_id),
    createdAt: num(r.created_at),
    status: str(r.status),
    background: num(r.background) === 1,
    previousResponseId: strOrNull(r.previous_response_id),
    conversationId: strOrNull(r.conversation_id),
    request: str(r.request),
    inputItems: str(r.input_items),
    body: str(r.body),
  };
}

function toChatCompletion(r: Row): StoredChatCompletion {
  return {
    id: str(r.id),
    projectId: str(r.project_id),
    createdAt: num(r.created_at),
    model: str(r.model),
    metadata: JSON.parse(str(r.metadata)) as Record<string, string>,
    request: str(r.request),
    completion: str(r.completion),
  };
}

/**
 * Responses, conversations and stored chat completions, each owned by a project: every read and
 * write names the project, so one project's key can never reach another's objects.
 */
export class ObjectStore {
  readonly #db: SqlDb;

  constructor(db: SqlDb) {
    this.#db = db;
  }

  // Responses

  async insertResponse(r: StoredResponse): Promise<void> {
    await this.#db.run(
      "INSERT INTO responses (id, project_id, created_at, status, background, previous_response_id, conversation_id, request, input_items, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      [r.id, r.projectId, r.createdAt, r.status, r.background ? 1 : 0, r.previousResponseId, r.conversationId, r.request, r.inputItems, r.body],
    );
  }

  /** Updates a response's status and object; `onlyIf` guards against overwriting a state set elsewhere (a cancel). */
  async updateResponse(id: string, status: string, body: string, onlyIf?: readonly string[]): Promise<boolean> {
    if (onlyIf === undefined) return (await this.#db.run("UPDATE responses SET status = ?, body = ? WHERE id = ?", [status, body, id])) > 0;
    const marks = onlyIf.map(() => "?").join(", ");
    return (await this.#db.run(`UPDATE responses SET status = ?, body = ? WHERE id = ? AND status IN (${marks})`, [status, body, id, ...onlyIf])) > 0;
  }

  async getResponse(projectId: string, id: string): Promise<StoredResponse | undefined> {
    const [row] = await this.#db.all("SELECT * FROM responses WHERE id = ? AND project_id = ?", [id, projectId]);
    return row === undefined ? undefined : toResponse(row);
  }

  async deleteResponse(projectId: string, id: string): Promise<boolean> {
    return (await this.#db.run("DELETE FROM responses WHERE id = ? AND project_id = ?", [id, projectId])) > 0;
  }

  /** Background responses that had not finished, for resuming after a restart. */
  async pendingBackgroundResponses(): Promise<StoredResponse[]> {
    return (await this.#db.all("SELECT * FROM responses WHERE background = 1 AND status IN ('queued', 'in_progress') ORDER BY created_at", [])).map(toResponse);
  }

  // Conversations

  async createConversation(c: StoredConversation, items: readonly StoredItem[]): Promise<void> {
    await this.#db.transaction(async (tx) => {
      await tx.run("INSERT INTO conversations (id, project_id, created_at, metadata) VALUES (?, ?, ?, ?)", [c.id, c.projectId, c.createdAt, JSON.stringify(c.metadata)]);
      await insertItems(tx, c.id, items);
    });
  }

  async getConversation(projectId: string, id: string): Promise<StoredConversation | undefined> {
    const [row] = await this.#db.all("SELECT * FROM conversations WHERE id = ? AND project_id = ?", [id, projectId]);
    if (row === undefined) return undefined;
    return { id: str(row.id), projectId: str(row.project_id), createdAt: num(row.created_at), metadata: JSON.parse(str(row.metadata)) as Record<string, string> };
  }

  async updateConversation(projectId: string, id: string, metadata: Record<string, string>): Promise<boolean> {
    return (await this.#db.run("UPDATE conversations SET metadata = ? WHERE id = ? AND project_id = ?", [JSON.stringify(metadata), id, projectId])) > 0;
  }

  async deleteConversation(projectId: string, id: string): Promise<boolean> {
    return this.#db.transaction(async (tx) => {
      const deleted = (await tx.run("DELETE FROM conversations WHERE id = ? AND project_id = ?", [id, projectId])) > 0;
      if (deleted) await tx.run("DELETE FROM conversation_items WHERE conversation_id = ?", [id]);
      return deleted;
    });
  }

  /** Appends items at the conversation's end, in order. The caller has checked the project owns it. */
  async appendConversationItems(conversationId: string, items: readonly StoredItem[]): Promise<void> {
    await this.#db.transaction((tx) => insertItems(tx, conversationId, items));
  }

  /** Every item of a conversation, oldest first: the context of its next turn. */
  async allConversationItems(conversationId: string): Promise<StoredItem[]> {
    const rows = await this.#db.all("SELECT id, created_at, item FROM conversation_items WHERE conversation_id = ? ORDER BY position", [conversationId]);
    return rows.map((r) => ({ id: str(r.id), createdAt: num(r.created_at), item: str(r.item) }));
  }

  async listConversationItems(conversationId: string, q: PageQuery): Promise<Page<StoredItem>> {
    let cursor: number | undefined;
    if (q.after !== undefined) {
      const [row] = await this.#db.all("SELECT position FROM conversation_items WHERE id = ? AND conversation_id = ?", [q.after, conversationId]);
      if (row === undefined) return { data: [], hasMore: false };
      cursor = num(row.position);
    }
    const params: Param[] = [conversationId];
    let where = "conversation_id = ?";
    if (cursor !== undefined) {
      where += q.order === "asc" ? " AND position > ?" : " AND position < ?";
      params.push(cursor);
    }
    const rows = await this.#db.all(`SELECT id, created_at, item FROM conversation_items WHERE ${where} ORDER BY position ${q.order === "asc" ? "ASC" : "DESC"} LIMIT ?`, [...params, q.limit + 1]);
    return { data: rows.slice(0, q.limit).map((r) => ({ id: str(r.id), createdAt: num(r.created_at), item: str(r.item) })), hasMore: rows.length > q.limit };
  }

  async getConversationItem(conversationId: string, itemId: string): Promise<StoredItem | undefined> {
    const [r] = await this.#db.all("SELECT id, created_at, item FROM conversation_items WHERE id = ? AND conversation_id = ?", [itemId, conversationId]);
    return r === undefined ? undefined : { id: str(r.id), createdAt: num(r.created_at), item: str(r.item) };
  }

  async deleteConversationItem(conversationId: string, itemId: string): Promise<boolean> {
    return (await this.#db.run("DELETE FROM conversation_items WHERE id = ? AND conversation_id = ?", [itemId, conversationId])) > 0;
  }

  // Stored chat completions

  async insertChatCompletion(c: StoredChatCompletion): Promise<void> {
    await this.#db.run("INSERT INTO chat_completions (id, project_id, created_at, model, metadata, request, completion, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [
      c.id,
      c.projectId,
      c.createdAt,
      c.model,
      JSON.stringify(c.metadata),
      c.request,
      c.completion,
      nextSeq(),
    ]);
  }

  async getChatCompletion(projectId: string, id: string): Promise<StoredChatCompletion | undefined> {
    const [row] = await this.#db.all("SELECT * FROM chat_completions WHERE id = ? AND project_id = ?", [id, projectId]);
    return row === undefined ? undefined : toChatCompletion(row);
  }

  /**
   * A page of a project's stored completions in creation order, optionally of one model and
   * matching every given metadata pair. An `after` id that is not the project's gives an empty page.
   */
  async listChatCompletions(projectId: string, q: PageQuery & { model?: string | undefined; metadata?: Record<string, string> }): Promise<Page<StoredChatCompletion>> {
    const params: Param[] = [projectId];
    let where = "project_id = ?";
    if (q.model !== undefined) {
      where += " AND model = ?";
      params.push(q.model);
    }
    if (q.after !== undefined) {
      const [row] = await this.#db.all("SELECT seq FROM chat_completions WHERE id = ? AND project_id = ?", [q.after, projectId]);
      if (row === undefined) return { data: [], hasMore: false };
      where += q.order === "asc" ? " AND (seq > ? OR (seq = ? AND id > ?))" : " AND (seq < ? OR (seq = ? AND id < ?))";
      params.push(num(row.seq), num(row.seq), q.after);
    }
    const dir = q.order === "asc" ? "ASC" : "DESC";
    // Metadata filters are few and rows are small: filter after reading, page by page.
    const filters = Object.entries(q.metadata ?? {});
    const out: StoredChatCompletion[] = [];
    let offset = 0;
    const chunk = Math.max(q.limit + 1, 100);
    for (;;) {
      const rows = await this.#db.all(`SELECT * FROM chat_completions WHERE ${where} ORDER BY seq ${dir}, id ${dir} LIMIT ? OFFSET ?`, [...params, chunk, offset]);
      for (const r of rows) {
        const c = toChatCompletion(r);
        if (filters.every(([k, v]) => c.metadata[k] === v)) out.push(c);
        if (out.length > q.limit) return { data: out.slice(0, q.limit), hasMore: true };
      }
      if (rows.length < chunk) return { data: out, hasMore: false };
      offset += chunk;
    }
  }

  async updateChatCompletion(projectId: string, id: string, metadata: Record<string, string>, completion: string): Promise<boolean> {
    return (await this.#db.run("UPDATE chat_completions SET metadata = ?, completion = ? WHERE id = ? AND project_id = ?", [JSON.stringify(metadata), completion, id, projectId])) > 0;
  }

  async deleteChatCompletion(projectId: string, id: string): Promise<boolean> {
    return (await this.#db.run("DELETE FROM chat_completions WHERE id = ? AND project_id = ?", [id, projectId])) > 0;
  }
}

async function insertItems(tx: SqlDb, conversationId: string, items: readonly StoredItem[]): Promise<void> {
  if (items.length === 0) return;
  const [row] = await tx.all("SELECT MAX(position) AS last FROM conversation_items WHERE conversation_id = ?", [conversationId]);
  let position = row?.last === null || row?.last === undefined ? 0 : num(row.last) + 1;
  for (const it of items) {
    await tx.run("INSERT INTO conversation_items (id, conversation_id, position, created_at, item) VALUES (?, ?, ?, ?, ?)", [it.id, conversationId, position++, it.createdAt, it.item]);
  }
}
