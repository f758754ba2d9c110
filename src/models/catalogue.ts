/** A model `modelport pull` knows by a short name. */
export interface CatalogueEntry {
  name: string;
  repo: string;
  file: string;
  description: string;
  /** Known size and digest; otherwise the Hub's `x-linked-size` / `x-linked-etag` headers are used. */
  size?: number;
  sha256?: string;
}

/** The built-in catalogue: small, real models that run well on a CPU. */
export const CATALOGUE: readonly CatalogueEntry[] = [
  {
    name: "qwen2.5-0.5b-instruct",
    repo: "Qwen/Qwen2.5-0.5B-Instruct-GGUF",
    file: "qwen2.5-0.5b-instruct-q4_k_m.gguf",
    description: "Qwen2.5 0.5B Instruct, Q4_K_M (about 490 MB); multilingual chat, the default model",
  },
  {
    name: "smollm2-360m-instruct",
    repo: "HuggingFaceTB/SmolLM2-360M-Instruct-GGUF",
    file: "smollm2-360m-instruct-q8_0.gguf",
    description: "SmolLM2 360M Instruct, Q8_0 (about 390 MB); English chat",
  },
  {
    name: "all-minilm-l6-v2",
    repo: "second-state/All-MiniLM-L6-v2-Embedding-GGUF",
    file: "all-MiniLM-L6-v2-Q8_0.gguf",
    description: "all-MiniLM-L6-v2, Q8_0 (about 25 MB); 384-dimension sentence embeddings",
  },
  {
    name: "llama-guard-3-1b",
    repo: "QuantFactory/Llama-Guard-3-1B-GGUF",
    file: "Llama-Guard-3-1B.Q4_K_M.gguf",
    description: "Llama Guard 3 1B, Q4_K_M (about 955 MB); a moderation model (safety classifier) for /v1/moderations, family llama-guard-3, not for chat",
  },
  {
    name: "shieldgemma-2b",
    repo: "QuantFactory/shieldgemma-2b-GGUF",
    file: "shieldgemma-2b.Q4_K_M.gguf",
    description: "ShieldGemma 2B, Q4_K_M (about 1.7 GB); a moderation model (safety classifier) for /v1/moderations, family shieldgemma, not for chat",
  },
];

/** A resolved download: where the file lives on the Hub and what we know about it. */
export interface PullTarget {
  repo: string;
  file: string;
  size?: number;
  sha256?: string;
}

/**
 * Resolves a short catalogue name or a Hugging Face `owner/repo/path/to/file.gguf` reference.
 * Returns undefined for anything else.
 */
export function resolvePullTarget(ref: string): PullTarget | undefined {
  const entry = CATALOGUE.find((e) => e.name === ref.toLowerCase());
  if (entry !== undefined) return entry;
  const parts = ref.replace(/^hf:\/\//, "").split("/").filter(Boolean);
  if (parts.length < 3 || !/\.gguf$/i.test(ref)) return undefined;
  if (parts.some((p) => p === "." || p === "..")) return undefined;
  return { repo: `${parts[0]}/${parts[1]}`, file: parts.slice(2).join("/") };
}
