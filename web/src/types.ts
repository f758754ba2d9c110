/** The wire objects the admin UI reads (a subset of each, as the server sends them). */

export interface Project {
  id: string;
  object: "organization.project";
  name: string;
  created_at: number;
  archived_at: number | null;
  status: "active" | "archived";
  tier: string | null;
  monthly_budget_usd: number | null;
  soft_budget_usd: number | null;
  month_spend_usd: number;
  soft_budget_exceeded: boolean;
  budget_exceeded: boolean;
  log_bodies: boolean;
}

export interface ApiKey {
  id: string;
  object: "organization.project.api_key";
  name: string;
  redacted_value: string;
  created_at: number;
  last_used_at: number | null;
  models: string[] | null;
  /** Only in the answer that created the key. */
  value?: string;
}

export interface RateLimit {
  id: string;
  object: "project.rate_limit";
  model: string;
  max_requests_per_1_minute: number;
  max_tokens_per_1_minute: number;
  max_requests_per_1_day: number;
  max_concurrent_requests: number;
}

export interface UsageResult {
  input_tokens: number;
  input_cached_tokens: number;
  output_tokens: number;
  num_model_requests: number;
  project_id: string | null;
  api_key_id: string | null;
  model: string | null;
  batch: boolean | null;
}

export interface CostResult {
  amount: { value: number; currency: string };
  line_item: string | null;
  project_id: string | null;
}

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
}

export interface RequestStatsResult {
  model?: string | null;
  project_id?: string | null;
  requests: number;
  errors: number;
  server_errors: number;
  latency_ms: Percentiles | null;
  ttft_ms: Percentiles | null;
}

/** `GET /v1/organization/request_stats`: buckets, and the whole range's figures in `total`. */
export interface RequestStatsPage {
  object: "page";
  data: { object: "bucket"; start_time: number; end_time: number; results: RequestStatsResult[] }[];
  total: RequestStatsResult;
  truncated: boolean;
}

export interface DeploymentStatus {
  id: string;
  requests: number;
  in_flight: number;
  failures: number;
  retries: number;
  circuit_state: "open" | "closed";
}

export interface ModelStatus {
  id: string;
  aliases: string[];
  owned_by: string;
  kind: "local" | "routed" | "builtin";
  context_length: number | null;
  pricing: { input: number; cached_input: number; output: number } | null;
  stats: Record<string, number>;
  deployments: DeploymentStatus[];
}

export interface ServerStatus {
  object: "organization.status";
  version: string;
  state: string;
  started_at: number;
  uptime_seconds: number;
  models: ModelStatus[];
  pulls: { file: string; bytes: number; total_bytes: number | null }[];
}

export interface LoggedRequest {
  id: string;
  object: string;
  created_at: number;
  project_id: string;
  api_key_id: string | null;
  model: string | null;
  endpoint: string | null;
  method: string;
  status: number;
  error_code: string | null;
  latency_ms: number;
  ttft_ms: number | null;
  usage: { input_tokens: number; output_tokens: number; cached_tokens: number } | null;
  cost_usd: number | null;
  deployment: string | null;
  retries: number;
  /** What guardrail checks did to the request. */
  guardrails: { stage: "input" | "output"; check: string; action: "block" | "redact" | "flag"; category: string | null }[];
  body?: unknown;
}
