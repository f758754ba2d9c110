import { z } from "zod";
import { DECLARABLE_PARAMS } from "../core/declarable-params.ts";

/** Per-model engine settings that can also be given as defaults for every model. */
const engineSettings = {
  /** Tokens per sequence. */
  contextSize: z.number().int().min(64).optional(),
  /** Parallel sequences (concurrent generations) for the model. */
  sequences: z.number().int().min(1).max(64).optional(),
  /** CPU threads for evaluation. */
  threads: z.number().int().min(1).max(256).optional(),
  /** Tokens evaluated per batch. */
  batchSize: z.number().int().min(1).optional(),
  /** Requests that may wait for a free sequence before new ones get 503. */
  queueSize: z.number().int().min(0).optional(),
  /** Shortest shared prompt prefix worth reusing from a sequence's state. */
  minPrefixReuse: z.number().int().min(1).optional(),
  /** Tokens sampled from (0 = the whole vocabulary, as OpenAI's top_p = 1 means, but slower). */
  samplingTopK: z.number().int().min(0).optional(),
  /** Speculative decoding by prompt lookup: continuations copied from the prompt, verified in one batch. */
  promptLookup: z.boolean().optional(),
  /** Most tokens drafted per step (prompt lookup or draft model). */
  speculativeTokens: z.number().int().min(1).max(64).optional(),
  /** Seeded outputs independent of concurrent requests (and of speculative drafts), at some decode speed. */
  deterministicSampling: z.boolean().optional(),
};

/** Prices in US dollars per million tokens. */
const pricingSchema = z.strictObject({
  input: z.number().min(0),
  cachedInput: z.number().min(0).optional(),
  output: z.number().min(0),
});

/** One model declared in the config file. */
export const modelConfigSchema = z.strictObject({
  id: z.string().min(1),
  path: z.string().min(1),
  aliases: z.array(z.string().min(1)).default([]),
  /** A built-in chat wrapper name or a Jinja template; overrides the GGUF's template. */
  chatTemplate: z.string().min(1).optional(),
  /** Prices for usage records; cached prompt tokens default to half the input price. */
  pricing: pricingSchema.optional(),
  /** A smaller GGUF with the same vocabulary that drafts tokens for speculative decoding (wins over promptLookup). */
  draftModel: z.string().min(1).optional(),
  ...engineSettings,
});

/** The whole configuration, after env vars, the YAML file and CLI flags are merged. */
export const configSchema = z.strictObject({
  host: z.string().min(1).default("127.0.0.1"),
  port: z.number().int().min(0).max(65535).default(8080),
  dataDir: z.string().min(1).default("./data"),
  modelsDir: z.string().min(1).default("./models"),
  apiKeys: z.array(z.string().min(1)).default([]),
  /** The bootstrap admin key; generated into DATA_DIR/admin-key when absent. */
  adminKey: z.string().min(16).optional(),
  /** PostgreSQL URL; SQLite in the data directory when absent. */
  databaseUrl: z.string().min(1).optional(),
  /** Redis URL; rate limits are kept in memory when absent. */
  redisUrl: z.string().min(1).optional(),
  bodyLimitBytes: z.number().int().min(1024).default(16 * 1024 * 1024),
  logLevel: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),
  shutdownTimeoutMs: z.number().int().min(0).default(15_000),
  /**
   * On SIGTERM, how long `/ready` answers 503 while the server still takes requests, before it stops
   * accepting connections: a load balancer sees it leave first, so no new request meets a closed port.
   */
  shutdownDelayMs: z.number().int().min(0).default(0),
  /**
   * How long a process holds background work it claimed (batch requests, files being indexed)
   * without renewing the claim: when a process dies, its work waits this long before another takes it.
   */
  jobLeaseMs: z.number().int().min(1000).max(3_600_000).default(60_000),
  /** Serve HTTPS (and wss:) with this PEM certificate and key: the SDKs' realtime clients only connect over TLS. */
  tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
  /** Realtime sessions (`GET /v1/realtime` over WebSocket). */
  realtime: z
    .strictObject({
      /** Open sessions per project. */
      maxSessionsPerProject: z.number().int().min(1).default(16),
      /** Longest a session may last, in seconds (OpenAI: 60 minutes). */
      maxSessionSeconds: z.number().int().min(10).default(3600),
      /** Most input audio held uncommitted, in bytes (15 MiB: about 5 minutes of 24 kHz PCM). */
      maxBufferBytes: z.number().int().min(4800).default(15 * 1024 * 1024),
      /** A session with no client event for this long is closed, in seconds. */
      idleTimeoutSeconds: z.number().int().min(5).default(600),
    })
    .prefault({}),
  /** The Responses API's `code_interpreter` tool: Python in a bubblewrap sandbox, one session per container. */
  codeInterpreter: z
    .strictObject({
      /** Off refuses the tool with a 400; it is also refused where the sandbox cannot be set up. */
      enabled: z.boolean().default(true),
      /** CPU seconds a container's Python process may use in all before it is restarted. */
      cpuSeconds: z.number().int().min(1).default(600),
      /** Wall-clock seconds one code run may take before the session is killed and restarted. */
      callSeconds: z.number().int().min(1).default(60),
      /** Most memory a container may have, in MiB, whatever its `memory_limit` asks (1g is 1024). */
      maxMemoryMiB: z.number().int().min(256).default(4096),
      /** Processes and threads per container. */
      processes: z.number().int().min(8).default(64),
      /** Open files per process. */
      openFiles: z.number().int().min(16).default(256),
      /** Largest file the code may write, in MiB. */
      fileSizeMiB: z.number().int().min(1).default(256),
      /** Output kept per run, in bytes (more is cut, and says so). */
      logBytes: z.number().int().min(1024).default(64 * 1024),
      /** Code runs per response at most (a request's max_tool_calls may lower it). */
      maxCallsPerResponse: z.number().int().min(1).default(10),
      /** A container's Python process ends after this long unused (its files stay until the container expires). */
      idleSessionSeconds: z.number().int().min(10).default(1200),
      /** USD per code interpreter session (a container's Python process started; OpenAI: $0.03 for 1 GB). */
      sessionPriceUsd: z.number().min(0).default(0.03),
    })
    .prefault({}),
  /** The Responses API's `web_search` tool: a search engine, and how pages are fetched. */
  webSearch: z
    .strictObject({
      /** The engine; the tool is refused while none is set. */
      backend: z.enum(["searxng", "brave", "tavily", "json"]).optional(),
      /** SearXNG's or the JSON endpoint's URL (Brave and Tavily default to their public APIs). */
      baseUrl: z.string().url().optional(),
      /** The environment variable holding the engine's API key (Brave, Tavily, the JSON endpoint). */
      apiKeyEnv: z.string().min(1).optional(),
      /** The generic JSON endpoint's query parameter and where its results and their fields are. */
      json: z
        .strictObject({
          queryParam: z.string().min(1).default("q"),
          resultsPath: z.string().default("results"),
          urlField: z.string().min(1).default("url"),
          titleField: z.string().min(1).default("title"),
          snippetField: z.string().min(1).default("snippet"),
        })
        .prefault({}),
      /** Results asked of the engine per search. */
      maxResults: z.number().int().min(1).max(20).default(5),
      /** Hosts (`name`, `name:port`, IPs, CIDRs) that may be private: a self-hosted SearXNG, an intranet. */
      allowPrivate: z.array(z.string().min(1)).default([]),
      fetchTimeoutMs: z.number().int().min(100).default(10_000),
      maxPageBytes: z.number().int().min(1024).default(2 * 1024 * 1024),
      maxRedirects: z.number().int().min(0).max(20).default(5),
      /** USD per search call (OpenAI: $10 per 1,000 calls). */
      pricePerCallUsd: z.number().min(0).default(0.01),
    })
    .prefault({}),
  /** The Responses API's remote `mcp` tool. */
  mcp: z
    .strictObject({
      /** Off refuses the tool with a 400. */
      enabled: z.boolean().default(true),
      /** Hosts (`name`, `name:port`, IPs, CIDRs) of private MCP servers that may be reached; others must be public. */
      allowPrivate: z.array(z.string().min(1)).default([]),
      /** Milliseconds to connect, list tools, or run one call. */
      timeoutMs: z.number().int().min(100).default(30_000),
    })
    .prefault({}),
  /** The admin web UI at `/admin` (built by `npm run build` into `dist/web`). */
  adminUi: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** Where the built UI is; default the package's `dist/web`. */
      dir: z.string().min(1).optional(),
    })
    .prefault({}),
  /** `GET /metrics` (Prometheus). */
  metrics: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** A Bearer token scrapers must send; without one only loopback clients are answered. Env MODELPORT_METRICS_TOKEN. */
      token: z.string().min(16).optional(),
    })
    .prefault({}),
  /** OpenTelemetry traces, sent over OTLP/HTTP (JSON); off by default, and the SDK is loaded only when on. Env MODELPORT_OTLP_ENDPOINT turns it on. */
  tracing: z
    .strictObject({
      enabled: z.boolean().default(false),
      /** The collector's OTLP/HTTP traces URL. */
      endpoint: z.string().url().default("http://127.0.0.1:4318/v1/traces"),
      /** The `service.name` resource attribute. */
      serviceName: z.string().min(1).default("modelport"),
      /** Extra headers sent with every export (a collector's API key, say). */
      headers: z.record(z.string(), z.string()).default({}),
    })
    .prefault({}),
  /** HTTP worker processes sharing the port; above 1 this process hosts the engine for them. */
  workers: z.number().int().min(1).max(64).default(1),
  gpu: z.enum(["auto", "cuda", "vulkan", "metal", "cpu"]).default("auto"),
  defaults: z
    .strictObject({
      contextSize: z.number().int().min(64).default(4096),
      sequences: z.number().int().min(1).max(64).default(4),
      threads: z.number().int().min(1).max(256).optional(),
      batchSize: z.number().int().min(1).default(128),
      queueSize: z.number().int().min(0).default(32),
      minPrefixReuse: z.number().int().min(1).default(32),
      samplingTopK: z.number().int().min(0).default(40),
      promptLookup: z.boolean().default(false),
      speculativeTokens: z.number().int().min(1).max(64).default(8),
      deterministicSampling: z.boolean().default(false),
    })
    .prefault({}),
  models: z.array(modelConfigSchema).default([]),
  /**
   * `/v1/moderations` answered here, and the moderation checks of guardrails: the built-in rule
   * engine (no model), and guard models (a local GGUF safety classifier such as Llama Guard 3).
   * Names an upstream model already has keep relaying to it.
   */
  moderation: z
    .strictObject({
      /** The rule engine's word and pattern lists. */
      rules: z
        .strictObject({
          /** The built-in English and Chinese lists; off leaves only `files`. */
          builtins: z.boolean().default(true),
          /** Extra rule files (JSON or YAML), see docs/moderation-rules.md. */
          files: z.array(z.string().min(1)).default([]),
        })
        .prefault({}),
      /** The rule engine's model: its id and the names it answers to (those no other model has). */
      rulesModel: z
        .strictObject({
          id: z.string().min(1).default("modelport-moderation-rules"),
          aliases: z.array(z.string().min(1)).default(["omni-moderation-latest", "omni-moderation-2024-09-26", "text-moderation-latest", "text-moderation-stable"]),
        })
        .prefault({}),
      /** Guard models: each a local model (by id) prompted as a safety classifier; their aliases take names before the rule engine's. */
      guardModels: z
        .array(
          z.strictObject({
            id: z.string().min(1),
            /** The local model (its id in `models` or the models directory) that classifies. */
            model: z.string().min(1),
            family: z.enum(["llama-guard-3", "shieldgemma"]),
            /** Score at or above which a category is flagged. */
            threshold: z.number().min(0).max(1).default(0.5),
            aliases: z.array(z.string().min(1)).default([]),
          }),
        )
        .default([]),
    })
    .prefault({}),
  /**
   * Guardrail policies per project id (`{input: [...], output: [...]}`, docs/guardrails.md); a policy
   * set through the admin API replaces the configured one.
   */
  guardrails: z
    .strictObject({
      projects: z.record(z.string().min(1), z.unknown()).default({}),
    })
    .prefault({}),
  /** The built-in audio models: text to speech (eSpeak NG) and speech to text (PocketSphinx, when installed). */
  audio: z
    .strictObject({
      speech: z.boolean().default(true),
      transcription: z.boolean().default(true),
      /** The language of Latin-script text to speak (an eSpeak NG voice id); other scripts pick their own. */
      language: z.string().min(1).default("en-us"),
      speechAliases: z.array(z.string().min(1)).default(["tts-1", "tts-1-hd", "gpt-4o-mini-tts"]),
      transcriptionAliases: z.array(z.string().min(1)).default(["whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe"]),
      /** Speech is metered in input characters (prompt tokens), transcription in audio seconds. */
      speechPricing: pricingSchema.optional(),
      transcriptionPricing: pricingSchema.optional(),
      /** The model that speaks chat answers asked for with `modalities: ["text", "audio"]`. */
      chatSpeechModel: z.string().min(1).default("tts-local"),
      /** The model that transcribes `input_audio` parts of chat and Responses input. */
      chatTranscriptionModel: z.string().min(1).default("stt-local"),
    })
    .prefault({}),
  /** Upstream providers: deployments, and the public model names routed to them. */
  upstreams: z
    .strictObject({
      deployments: z
        .array(
          z.strictObject({
            id: z.string().min(1),
            provider: z.enum(["openai-compatible", "azure-openai", "anthropic"]).default("openai-compatible"),
            baseUrl: z.string().url(),
            /** Azure OpenAI's api-version. */
            apiVersion: z.string().min(1).optional(),
            /** The environment variable that holds the upstream's API key; keys never go in config files. */
            apiKeyEnv: z.string().min(1).optional(),
            model: z.string().min(1),
            weight: z.number().min(0).default(1),
            timeoutMs: z.number().int().min(1).default(30_000),
            /** This deployment's own limits (requests and tokens per minute), enforced by the router in this process. */
            rpm: z.number().int().min(1).optional(),
            tpm: z.number().int().min(1).optional(),
            /** Parameters this upstream lacks, beyond what its adapter declares (e.g. `logprobs` on an Ollama). */
            unsupportedParams: z.array(z.enum(DECLARABLE_PARAMS)).default([]),
            /** Leave parameters the upstream lacks out of the call instead of answering 400. */
            dropUnsupportedParams: z.boolean().default(false),
            /**
             * The OpenAI endpoints besides chat this upstream serves and Modelport relays to it; by
             * default all its provider has. List fewer for servers that lack some (vLLM, Ollama and
             * llama.cpp have no /responses): `[]` makes a chat-only upstream, whose Responses requests
             * (and built-in tools) run here, bridged through chat.
             */
            endpoints: z
              .array(
                z.enum([
                  "/responses", "/embeddings", "/completions", "/moderations", "/audio/speech", "/audio/transcriptions", "/audio/translations", "/realtime",
                  "/images/generations", "/images/edits", "/images/variations",
                ]),
              )
              .optional(),
            /** Output-token cap sent when a request sets none and the provider requires one (Anthropic). */
            maxTokens: z.number().int().min(1).default(4096),
          }),
        )
        .default([]),
      models: z
        .array(
          z.strictObject({
            name: z.string().min(1),
            aliases: z.array(z.string().min(1)).default([]),
            deployments: z.array(z.string().min(1)).min(1),
            fallbacks: z.array(z.string().min(1)).default([]),
            contextFallbacks: z.array(z.string().min(1)).default([]),
            maxRetries: z.number().int().min(0).default(2),
            deadlineMs: z.number().int().min(1).default(120_000),
            breakerThreshold: z.number().int().min(1).default(3),
            breakerCooldownMs: z.number().int().min(0).default(30_000),
            /**
             * How a request picks a deployment: the least loaded relative to weight, or
             * `prefix-affinity` (every turn of a conversation to the same deployment, within a load
             * bound) for upstreams with prefix caches; `affinityLoadFactor` is that bound's ε.
             */
            routing: z.enum(["least-load", "prefix-affinity"]).default("least-load"),
            affinityLoadFactor: z.number().min(0).max(10).default(0.25),
            pricing: pricingSchema.optional(),
          }),
        )
        .default([]),
    })
    .prefault({}),
  /** Rate limits for projects without an explicit limit or tier. */
  rateLimits: z
    .strictObject({
      /** Usage tier applied to projects that have none; null for unlimited. */
      defaultTier: z.enum(["free", "tier-1", "tier-2", "tier-3", "tier-4", "tier-5"]).nullable().default("tier-5"),
    })
    .prefault({}),
  /** Hot prompt prefixes kept as KV state files in the data directory. */
  prefixCache: z
    .strictObject({
      enabled: z.boolean().default(false),
      minTokens: z.number().int().min(16).default(1024),
      block: z.number().int().min(1).default(256),
      maxBytes: z.number().int().min(0).default(1024 * 1024 * 1024),
      minHits: z.number().int().min(1).default(2),
    })
    .prefault({}),
  /** Files and batches. */
  files: z
    .strictObject({
      /** Largest file accepted by POST /v1/files (and largest assembled upload). */
      maxBytes: z.number().int().min(1).default(512 * 1024 * 1024),
    })
    .prefault({}),
  /**
   * Where bytes are kept (files, upload parts, batch output): the data directory, S3-compatible
   * object storage, or PostgreSQL (docs/blob-storage.md).
   */
  blobs: z
    .strictObject({
      backend: z.enum(["local", "s3", "postgres"]).default("local"),
      /** For backend s3; credentials come from the AWS SDK's chain (AWS_ACCESS_KEY_ID, AWS_PROFILE, roles), never from here. */
      s3: z
        .strictObject({
          /** An S3-compatible endpoint (MinIO, Ceph); AWS's own when absent. */
          endpoint: z.string().url().optional(),
          bucket: z.string().min(1).optional(),
          /** Put before every key, e.g. `modelport/`. */
          prefix: z.string().regex(/^([A-Za-z0-9_-][A-Za-z0-9._-]*\/?)*$/, "letters, digits and ._- in /-separated segments").default(""),
          /** Default: AWS_REGION, else us-east-1. */
          region: z.string().min(1).optional(),
          /** `endpoint/bucket/key` URLs, as MinIO and most self-hosted servers need. */
          forcePathStyle: z.boolean().default(false),
          /** Multipart upload part size (S3's minimum is 5). */
          partSizeMiB: z.number().int().min(5).max(5120).default(8),
          /** Parts one upload sends at once. */
          queueSize: z.number().int().min(1).max(16).default(2),
        })
        .prefault({}),
    })
    .refine((b) => b.backend !== "s3" || b.s3.bucket !== undefined, { message: "blobs.backend 's3' needs blobs.s3.bucket (MODELPORT_S3_BUCKET)", path: ["s3", "bucket"] })
    .prefault({}),
  batches: z
    .strictObject({
      /** Batch requests run at once, across all batches of this process. */
      concurrency: z.number().int().min(1).default(2),
      /** Most lines an input file may have. */
      maxRequests: z.number().int().min(1).default(50_000),
    })
    .prefault({}),
  /** Vector stores and file_search. */
  vectorStores: z
    .strictObject({
      /** The model new stores embed with (a local GGUF or an upstream with /v1/embeddings); default: the first model that can embed. */
      embeddingModel: z.string().min(1).optional(),
      /** Files indexed at once by this process. */
      indexingConcurrency: z.number().int().min(1).default(1),
    })
    .prefault({}),
  /** Usage metering (the usage and costs APIs, budgets). */
  usage: z
    .strictObject({
      /**
       * Append each usage record to a journal in the data directory as it is made, so a process that
       * is killed loses none of the last second's records (the next start writes them); off keeps
       * them in memory only until their batched database write.
       */
      journal: z.boolean().default(true),
    })
    .prefault({}),
  /** The request log (`GET /v1/organization/requests`): recent requests, trimmed by age and count. */
  requestLog: z
    .strictObject({
      enabled: z.boolean().default(true),
      /** Rows older than this many days are deleted. */
      retentionDays: z.number().positive().default(7),
      /** Most rows kept; the oldest beyond it are deleted. */
      maxRows: z.number().int().min(1).default(100_000),
      /** Most bytes kept of a request's JSON body (and of its answer's), for projects with `log_bodies`. */
      maxBodyBytes: z.number().int().min(256).default(16_384),
    })
    .prefault({}),
  pull: z
    .strictObject({
      endpoint: z.string().url().default("https://huggingface.co"),
      defaultModel: z.string().min(1).default("qwen2.5-0.5b-instruct"),
      /** Pull the default model when no model is found at start. */
      autoPull: z.boolean().default(true),
    })
    .prefault({}),
});

/** Validated configuration. */
export type Config = z.infer<typeof configSchema>;
/** One declared model. */
export type ModelConfig = z.infer<typeof modelConfigSchema>;
/** Raw input before defaults are applied. */
export type ConfigInput = z.input<typeof configSchema>;
