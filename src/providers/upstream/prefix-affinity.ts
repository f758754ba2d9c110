/**
 * Prefix-affinity routing, for upstream deployments that are engines with prefix caches (other
 * Modelport instances, vLLM, llama.cpp servers): every turn of one conversation goes to the same
 * deployment, which still holds the KV state of the conversation's earlier turns, instead of to
 * whichever is least loaded, which would evaluate the whole history again.
 *
 * A request's affinity key is a hash of what stays the same across the turns of its conversation;
 * the deployments are ranked for that key by weighted rendezvous (highest-random-weight) hashing,
 * so a deployment that is unusable (tried already, resting, at its own limits) only moves its own
 * keys, each to the next deployment in that key's ranking; and a deployment that has more than its
 * share of the requests in flight is passed over (consistent hashing with bounded loads, Mirrokni,
 * Thorup and Zadimoghaddam, 2018), so one hot conversation, or an unlucky hash, never overloads a
 * replica.
 */
import { createHash, type Hash } from "node:crypto";
import type { ChatRequest } from "../../core/chat.ts";
import { isForwardForm, type ForwardBody, type ForwardEndpoint } from "../provider.ts";

/** How a routed model chooses among its deployments. */
export type RoutingStrategy = "least-load" | "prefix-affinity";

/** The default load bound ε: a deployment may hold up to ⌈1.25 × its share of the requests in flight + 1⌉. */
export const DEFAULT_AFFINITY_LOAD_FACTOR = 0.25;

/** 64 bits of a hash of what identifies a request's conversation, as two unsigned 32-bit halves. */
export interface AffinityKey {
  readonly hi: number;
  readonly lo: number;
}

/** What the ranking needs of a deployment: its id and weight, and its requests in flight. */
export interface AffinityCandidate {
  readonly deployment: { readonly id: string; readonly weight: number };
  readonly inFlight: number;
}

function keyOf(hash: Hash): AffinityKey {
  const digest = hash.digest();
  return { hi: digest.readUInt32BE(0), lo: digest.readUInt32BE(4) };
}

/** Separates fields in a hashed text, so that ("ab", "c") and ("a", "bc") differ. */
const SEP = "\u0000";

/**
 * The affinity key of a chat request: a hash of its stable prefix, the messages up to and
 * including the first user message (system and developer messages, any examples before it). Later
 * turns only append to a conversation, so every turn has the same key; conversations that share a
 * system prompt but open differently get different keys and spread over the deployments (each of
 * which then caches the shared system prompt once). A `prompt_cache_key` names the group instead,
 * hashed as a relayed request's is, so chat and relayed Responses requests with one key meet on one
 * deployment. A Responses request bridged through chat arrives with its `previous_response_id`
 * already replaced by the stored history, whose first messages are the same on every turn.
 */
export function chatAffinityKey(request: ChatRequest): AffinityKey | undefined {
  if (request.promptCacheKey !== undefined) return namedKey(request.promptCacheKey);
  if (request.messages.length === 0) return undefined;
  const hash = createHash("sha256").update("chat");
  for (const m of request.messages) {
    hash.update(SEP).update(m.role).update(SEP).update(m.content);
    if (m.role === "user") {
      // Two first messages that differ only in their images are different conversations.
      for (const part of m.parts) if (part.type === "image") hash.update(SEP).update(part.url);
      break;
    }
  }
  return keyOf(hash);
}

/** The key of requests a client groups by name (`prompt_cache_key`, a conversation id). */
function namedKey(name: string): AffinityKey {
  return keyOf(createHash("sha256").update("named").update(SEP).update(name));
}

/** A Responses `conversation`: its id, given as a string or as `{id}`. */
function conversationId(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "object" && value !== null && typeof (value as { id?: unknown }).id === "string") return (value as { id: string }).id;
  return undefined;
}

/** A Responses `input`'s items up to and including the first user message (all of a string input). */
function inputPrefix(input: unknown): unknown {
  if (!Array.isArray(input)) return input;
  const end = input.findIndex((item: unknown) => typeof item === "object" && item !== null && (item as { role?: unknown }).role === "user");
  return end < 0 ? input : input.slice(0, end + 1);
}

/**
 * The affinity key of a relayed request, from its body as the client sent it: the client's own
 * `prompt_cache_key`, else a Responses `conversation` id, else (Responses) `previous_response_id`,
 * else (Responses) the stable prefix of `instructions` and `input` as for chat. Other endpoints and
 * forms have none and go to the least loaded deployment.
 *
 * A `previous_response_id` changes on every turn, so a relayed chain of responses is kept together
 * only when the client also names it (`prompt_cache_key`, or a `conversation`).
 */
export function forwardAffinityKey(endpoint: ForwardEndpoint, body: ForwardBody): AffinityKey | undefined {
  if (isForwardForm(body)) return undefined;
  const named = typeof body.prompt_cache_key === "string" && body.prompt_cache_key !== "" ? body.prompt_cache_key : endpoint === "/responses" ? conversationId(body.conversation) : undefined;
  if (named !== undefined) return namedKey(named);
  if (endpoint !== "/responses") return undefined;
  if (typeof body.previous_response_id === "string") return keyOf(createHash("sha256").update("previous").update(SEP).update(body.previous_response_id));
  if (body.input === undefined) return undefined;
  return keyOf(createHash("sha256").update("responses").update(SEP).update(JSON.stringify([body.instructions ?? null, inputPrefix(body.input)])));
}

/** Murmur3's 32-bit finaliser: every input bit flips each output bit with probability about ½. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Deployment ids' hashes; there are only as many as configured deployments. */
const idHashes = new Map<string, AffinityKey>();

function idHash(id: string): AffinityKey {
  let h = idHashes.get(id);
  if (h === undefined) {
    h = keyOf(createHash("sha256").update("deployment").update(SEP).update(id));
    idHashes.set(id, h);
  }
  return h;
}

/**
 * A deployment's rendezvous score for a key: −weight / ln(u), where u in (0, 1) is a hash of the
 * key and the deployment's id. The highest score wins each key; a deployment wins a share of keys
 * proportional to its weight, and removing one leaves every other deployment's scores, and so the
 * ranking among them, as they were.
 */
export function affinityScore(key: AffinityKey, id: string, weight: number): number {
  const d = idHash(id);
  const x = fmix32(key.lo ^ d.lo);
  const y = fmix32(key.hi ^ d.hi ^ x);
  // 53 bits, strictly inside (0, 1).
  const u = (x * 2 ** 21 + (y >>> 11) + 0.5) / 2 ** 53;
  return -weight / Math.log(u);
}

/**
 * The deployment for a key among `candidates` (the ready ones: eligible, not resting, within their
 * own limits, not tried yet while others remain): the highest ranked whose requests in flight,
 * this one included, stay within ⌈(1 + loadFactor) × its fair share + 1⌉, its fair share being
 * its weight's share of all the candidates' requests in flight. The + 1 is slack for light load:
 * without it (Mirrokni et al.'s bound) a second request of a conversation already diverts while
 * another deployment is idle, though an engine batches two sequences almost for free. Some
 * candidate always fits (the bounds add up to more than the load), so undefined means only that
 * there were no candidates.
 */
export function affinityPick<T extends AffinityCandidate>(candidates: readonly T[], key: AffinityKey, loadFactor: number): T | undefined {
  if (candidates.length <= 1) return candidates[0];
  let load = 0;
  let weight = 0;
  for (const c of candidates) {
    load += c.inFlight;
    weight += c.deployment.weight;
  }
  const ranked = candidates.map((c) => ({ c, score: affinityScore(key, c.deployment.id, c.deployment.weight) })).sort((a, b) => b.score - a.score);
  for (const { c } of ranked) {
    // Less a hair, so that a bound that is a whole number in exact arithmetic is not rounded up.
    const bound = Math.ceil(((1 + loadFactor) * load * c.deployment.weight) / weight + 1 - 1e-9);
    if (c.inFlight + 1 <= bound) return c;
  }
  return undefined;
}
