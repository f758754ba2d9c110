/**
 * Schema changes, applied in order at start; each runs once. `sql` is SQL that SQLite and PostgreSQL
 * both accept; `postgres`, when given, runs after it on PostgreSQL only (storage settings SQLite has
 * no words for).
 */
export const MIGRATIONS: readonly { version: number; sql: string; postgres?: string }[] = [
  {
    version: 1,
    sql: `
CREATE TABLE projects (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  archived_at BIGINT,
  tier TEXT,
  monthly_budget_usd DOUBLE PRECISION,
  soft_budget_usd DOUBLE PRECISION
);
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL REFERENCES projects(id),
  name TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  redacted TEXT NOT NULL,
  models TEXT,
  is_admin INTEGER NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  last_used_at BIGINT,
  revoked_at BIGINT
);
CREATE INDEX api_keys_project ON api_keys(project_id, created_at);
CREATE TABLE rate_limits (
  project_id TEXT NOT NULL REFERENCES projects(id),
  model TEXT NOT NULL,
  rpm INTEGER,
  tpm INTEGER,
  rpd INTEGER,
  max_concurrent INTEGER,
  PRIMARY KEY (project_id, model)
);
CREATE TABLE usage_records (
  id TEXT PRIMARY KEY,
  created_at BIGINT NOT NULL,
  project_id TEXT NOT NULL,
  key_id TEXT,
  model TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  input_tokens BIGINT NOT NULL,
  cached_tokens BIGINT NOT NULL,
  output_tokens BIGINT NOT NULL,
  reasoning_tokens BIGINT NOT NULL,
  latency_ms BIGINT NOT NULL,
  status INTEGER NOT NULL,
  cost_usd DOUBLE PRECISION NOT NULL,
  batch INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX usage_project_time ON usage_records(project_id, created_at);
`,
  },
  {
    version: 2,
    sql: `
CREATE TABLE responses (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  status TEXT NOT NULL,
  background INTEGER NOT NULL DEFAULT 0,
  previous_response_id TEXT,
  conversation_id TEXT,
  request TEXT NOT NULL,
  input_items TEXT NOT NULL,
  body TEXT NOT NULL
);
CREATE INDEX responses_project ON responses(project_id, created_at);
CREATE INDEX responses_pending ON responses(status, background);
CREATE TABLE conversations (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  metadata TEXT NOT NULL
);
CREATE TABLE conversation_items (
  id TEXT PRIMARY KEY,
  conversation_id TEXT NOT NULL,
  position BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  item TEXT NOT NULL
);
CREATE INDEX conversation_items_order ON conversation_items(conversation_id, position);
CREATE TABLE chat_completions (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  model TEXT NOT NULL,
  metadata TEXT NOT NULL,
  request TEXT NOT NULL,
  completion TEXT NOT NULL
);
CREATE INDEX chat_completions_project ON chat_completions(project_id, created_at);
`,
  },
  {
    // Stored chat completions list in the order they were made: `created_at` has one-second
    // granularity, so `seq` (microseconds since the epoch, strictly increasing per process) orders
    // completions made within the same second.
    version: 3,
    sql: `
ALTER TABLE chat_completions ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
UPDATE chat_completions SET seq = created_at * 1000000;
CREATE INDEX chat_completions_project_seq ON chat_completions(project_id, seq);
`,
  },
  {
    // Files (bytes on disk, metadata here), uploads in parts, and batches with one row per input
    // line, so a worker can claim, finish and meter each request exactly once across restarts.
    version: 4,
    sql: `
CREATE TABLE files (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT,
  bytes BIGINT NOT NULL,
  filename TEXT NOT NULL,
  purpose TEXT NOT NULL,
  status TEXT NOT NULL,
  seq BIGINT NOT NULL
);
CREATE INDEX files_project ON files(project_id, seq);
CREATE TABLE uploads (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  filename TEXT NOT NULL,
  purpose TEXT NOT NULL,
  bytes BIGINT NOT NULL,
  mime_type TEXT NOT NULL,
  status TEXT NOT NULL,
  file_id TEXT,
  file_expires_after TEXT
);
CREATE TABLE upload_parts (
  id TEXT PRIMARY KEY,
  upload_id TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  bytes BIGINT NOT NULL
);
CREATE INDEX upload_parts_upload ON upload_parts(upload_id, created_at);
CREATE TABLE batches (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL,
  key_id TEXT,
  created_at BIGINT NOT NULL,
  seq BIGINT NOT NULL,
  endpoint TEXT NOT NULL,
  input_file_id TEXT NOT NULL,
  completion_window TEXT NOT NULL,
  status TEXT NOT NULL,
  output_file_id TEXT,
  error_file_id TEXT,
  expires_at BIGINT NOT NULL,
  in_progress_at BIGINT,
  finalizing_at BIGINT,
  completed_at BIGINT,
  failed_at BIGINT,
  expired_at BIGINT,
  cancelling_at BIGINT,
  cancelled_at BIGINT,
  request_total BIGINT NOT NULL DEFAULT 0,
  request_completed BIGINT NOT NULL DEFAULT 0,
  request_failed BIGINT NOT NULL DEFAULT 0,
  metadata TEXT NOT NULL,
  errors TEXT,
  input_tokens BIGINT NOT NULL DEFAULT 0,
  cached_tokens BIGINT NOT NULL DEFAULT 0,
  output_tokens BIGINT NOT NULL DEFAULT 0,
  reasoning_tokens BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX batches_project ON batches(project_id, seq);
CREATE INDEX batches_status ON batches(status);
CREATE TABLE batch_requests (
  batch_id TEXT NOT NULL,
  line BIGINT NOT NULL,
  custom_id TEXT NOT NULL,
  body TEXT NOT NULL,
  status TEXT NOT NULL,
  claim TEXT,
  claimed_until BIGINT,
  result TEXT,
  failed INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (batch_id, line)
);
CREATE INDEX batch_requests_pending ON batch_requests(batch_id, status, line);
`,
  },
  {
    version: 5,
    sql: `
CREATE TABLE vector_stores (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  seq BIGINT NOT NULL,
  name TEXT NOT NULL,
  description TEXT,
  metadata TEXT NOT NULL,
  embedding_model TEXT NOT NULL,
  expires_after_days INTEGER,
  last_active_at BIGINT NOT NULL,
  version BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX vector_stores_project ON vector_stores(project_id, seq);
CREATE TABLE vector_store_file_batches (
  id TEXT PRIMARY KEY,
  vector_store_id TEXT NOT NULL,
  project_id TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  cancelled INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE vector_store_files (
  vector_store_id TEXT NOT NULL,
  file_id TEXT NOT NULL,
  project_id TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  seq BIGINT NOT NULL,
  batch_id TEXT,
  filename TEXT NOT NULL,
  status TEXT NOT NULL,
  last_error TEXT,
  max_chunk_tokens INTEGER NOT NULL,
  overlap_tokens INTEGER NOT NULL,
  attributes TEXT NOT NULL,
  usage_bytes BIGINT NOT NULL DEFAULT 0,
  content TEXT,
  claim TEXT,
  claimed_until BIGINT,
  PRIMARY KEY (vector_store_id, file_id)
);
CREATE INDEX vector_store_files_list ON vector_store_files(vector_store_id, seq);
CREATE INDEX vector_store_files_status ON vector_store_files(status);
CREATE INDEX vector_store_files_batch ON vector_store_files(batch_id);
CREATE TABLE vector_store_chunks (
  vector_store_id TEXT NOT NULL,
  file_id TEXT NOT NULL,
  chunk_index INTEGER NOT NULL,
  text TEXT NOT NULL,
  tokens INTEGER NOT NULL,
  embedding BYTEA NOT NULL,
  PRIMARY KEY (vector_store_id, file_id, chunk_index)
);
`,
  },
  {
    // One counter bumped in the same transaction as every change that can take a key's rights
    // away (a revoke, a project archived) or change what a key may do: servers cache principals by
    // key hash and drop the cache when the counter moves, so such a change applies at once in every
    // process (services/principal-cache.ts).
    version: 6,
    sql: `
CREATE TABLE access_version (
  id INTEGER PRIMARY KEY,
  version BIGINT NOT NULL
);
INSERT INTO access_version (id, version) VALUES (1, 0);
`,
  },
  {
    // Audio: tokens standing for audio in chat, seconds transcribed and characters spoken, so the
    // usage API can report audio_speeches, audio_transcriptions and audio tokens.
    version: 7,
    sql: `
ALTER TABLE usage_records ADD COLUMN input_audio_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE usage_records ADD COLUMN output_audio_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE usage_records ADD COLUMN audio_seconds DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE usage_records ADD COLUMN characters BIGINT NOT NULL DEFAULT 0;
`,
  },
  {
    // Containers (OpenAI's Containers API): a working directory on disk per container, and a row per
    // file in it. `mtime_us` is the file's modification time as last seen, so a sync finds changes;
    // one row per path.
    version: 8,
    sql: `
CREATE TABLE containers (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL,
  name TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  last_active_at BIGINT NOT NULL,
  expires_after_minutes BIGINT NOT NULL,
  memory_limit TEXT NOT NULL,
  status TEXT NOT NULL,
  seq BIGINT NOT NULL
);
CREATE INDEX containers_project ON containers(project_id, seq);
CREATE INDEX containers_status ON containers(status, last_active_at);
CREATE TABLE container_files (
  id TEXT PRIMARY KEY,
  container_id TEXT NOT NULL,
  project_id TEXT NOT NULL,
  path TEXT NOT NULL,
  bytes BIGINT NOT NULL,
  source TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  mtime_us BIGINT NOT NULL,
  seq BIGINT NOT NULL
);
CREATE UNIQUE INDEX container_files_path ON container_files(container_id, path);
CREATE INDEX container_files_container ON container_files(container_id, seq);
`,
  },
  {
    // Images (/v1/images/*): how many each request made and their size, so the usage API can report
    // organization.usage.images by size and source.
    version: 9,
    sql: `
ALTER TABLE usage_records ADD COLUMN images BIGINT NOT NULL DEFAULT 0;
ALTER TABLE usage_records ADD COLUMN image_size TEXT;
`,
  },
  {
    // The request log: recent requests, one row each, trimmed by age and count. The request id may
    // come from the client (`x-request-id`), so it is not unique: `seq` (microseconds, strictly
    // increasing per process) orders the rows and keys them with it. `body` is kept only for
    // projects that opt in (`log_bodies`).
    version: 10,
    sql: `
CREATE TABLE request_log (
  id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  project_id TEXT NOT NULL,
  key_id TEXT,
  model TEXT,
  endpoint TEXT,
  method TEXT NOT NULL,
  status INTEGER NOT NULL,
  error_code TEXT,
  latency_ms BIGINT NOT NULL,
  ttft_ms BIGINT,
  prompt_tokens BIGINT,
  completion_tokens BIGINT,
  cached_tokens BIGINT,
  cost_usd DOUBLE PRECISION,
  deployment TEXT,
  retries INTEGER NOT NULL DEFAULT 0,
  body TEXT,
  PRIMARY KEY (seq, id)
);
CREATE INDEX request_log_id ON request_log(id);
CREATE INDEX request_log_project ON request_log(project_id, seq);
CREATE INDEX request_log_time ON request_log(created_at);
ALTER TABLE projects ADD COLUMN log_bodies INTEGER NOT NULL DEFAULT 0;
`,
  },
  {
    // Guardrail policies per project (a JSON document each), and what the checks did per logged
    // request (a JSON array of {stage, check, action, category}).
    version: 11,
    sql: `
CREATE TABLE guardrail_policies (
  project_id TEXT PRIMARY KEY,
  policy TEXT NOT NULL,
  updated_at BIGINT NOT NULL
);
ALTER TABLE request_log ADD COLUMN guardrails TEXT;
`,
  },
  {
    // Blobs kept in the database (blobs.backend: postgres): an object row, visible to readers once
    // `complete`, and its bytes in 1 MiB chunks that go with it. `touched_at` (milliseconds) moves
    // with every chunk, so the sweep takes only puts that stopped long ago for a dead process's.
    // (12 is another change's.)
    version: 12,
    sql: `
CREATE TABLE blob_objects (
  id TEXT PRIMARY KEY,
  blob_key TEXT NOT NULL,
  bytes BIGINT NOT NULL,
  complete INTEGER NOT NULL,
  created_at BIGINT NOT NULL,
  touched_at BIGINT NOT NULL
);
CREATE INDEX blob_objects_key ON blob_objects(blob_key, complete);
CREATE TABLE blob_chunks (
  object_id TEXT NOT NULL REFERENCES blob_objects(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  data BYTEA NOT NULL,
  PRIMARY KEY (object_id, seq)
);
`,
    // Chunks are mostly compressed already (PDFs, images, archives): out of line without a compression try, which halves write time.
    postgres: "ALTER TABLE blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL;",
  },
];
