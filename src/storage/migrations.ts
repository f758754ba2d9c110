/** Schema changes, applied in order at start; each runs once. SQL that SQLite and PostgreSQL both accept. */
export const MIGRATIONS: readonly { version: number; sql: string }[] = [
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
];
