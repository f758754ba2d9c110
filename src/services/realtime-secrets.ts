import { createHash } from "node:crypto";
import { randomHex, unixSeconds } from "../core/ids.ts";
import type { RealtimeConfig } from "../protocol/openai/realtime.ts";
import type { Principal } from "./access.ts";

/** What an ephemeral client secret stands for: the key that made it, its model and session. */
export interface RealtimeGrant {
  principal: Principal;
  model: string;
  config: RealtimeConfig;
  expiresAt: number;
}

const hash = (value: string): string => createHash("sha256").update(value).digest("hex");

/**
 * Ephemeral client secrets (`POST /v1/realtime/client_secrets`): short-lived `ek_` values a server
 * hands a browser, which opens realtime sessions with them, scoped to one model and session
 * configuration and metered to the project of the key that made them. Kept hashed, in memory: a
 * secret lives minutes, and a restart simply ends the ones outstanding.
 */
export class RealtimeSecrets {
  readonly #grants = new Map<string, RealtimeGrant>();

  /** Makes a secret valid for `seconds`. */
  create(grant: Omit<RealtimeGrant, "expiresAt">, seconds: number): { value: string; expiresAt: number } {
    this.#prune();
    const value = `ek_${randomHex(16)}`;
    const expiresAt = unixSeconds() + seconds;
    this.#grants.set(hash(value), { ...grant, expiresAt });
    return { value, expiresAt };
  }

  /** The grant of a live secret; undefined for an unknown or expired one. */
  resolve(value: string): RealtimeGrant | undefined {
    const grant = this.#grants.get(hash(value));
    if (grant === undefined || grant.expiresAt <= unixSeconds()) return undefined;
    return grant;
  }

  #prune(): void {
    const now = unixSeconds();
    for (const [key, grant] of this.#grants) if (grant.expiresAt <= now) this.#grants.delete(key);
  }
}
