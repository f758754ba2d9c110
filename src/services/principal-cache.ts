import type { AccessVersion } from "../storage/access-version.ts";

/** Enough for every key of a large deployment; past it the oldest entries go (a miss reads the database). */
const MAX_ENTRIES = 10_000;

/**
 * Values (principals) by key hash, valid only at the access version they were read at. Every look-up
 * asks the version first and drops the whole cache when it moved, so a revoke, an archive or a
 * change of a key's rights in any process applies to the next request here. Only values the caller
 * calls cacheable are kept: an unknown or refused key is read from the database every time.
 */
export class PrincipalCache<T> {
  readonly #version: AccessVersion;
  readonly #entries = new Map<string, T>();
  /** The version the entries were read at. */
  #at = Number.NaN;
  readonly #onMoved: () => void;

  /** `onMoved` runs whenever the version is found to have moved (and at the first look-up). */
  constructor(version: AccessVersion, onMoved: () => void = () => undefined) {
    this.#version = version;
    this.#onMoved = onMoved;
  }

  /**
   * The value for `hash`: cached when still valid, else `load`ed (and cached when `cacheable` says
   * so and no change to access happened while it was read).
   */
  async resolve<R>(hash: string, load: () => Promise<R>, cacheable: (loaded: R) => loaded is R & T): Promise<T | R> {
    const version = await this.#current();
    if (version !== this.#at) {
      this.#entries.clear();
      this.#at = version;
      this.#onMoved();
    }
    const hit = this.#entries.get(hash);
    if (hit !== undefined) return hit;
    const loaded = await load();
    if (!cacheable(loaded)) return loaded;
    // Read before the load, checked after it: a change committed meanwhile may or may not be in
    // what was loaded, so the value is used for this request and not kept.
    if ((await this.#current()) !== version || this.#at !== version) return loaded;
    if (this.#entries.size >= MAX_ENTRIES) this.#entries.delete(this.#entries.keys().next().value as string);
    this.#entries.set(hash, loaded);
    return loaded;
  }

  #current(): number | Promise<number> {
    return this.#version.current();
  }
}
