import { ApiError, invalidRequest, modelNotFound } from "../../core/errors.ts";
import { combineVerdicts, emptyVerdict, type ModerationVerdict } from "../../guard/moderation-categories.ts";
import type { ModerationItem } from "../../protocol/openai/moderations.ts";

/** Something that classifies texts: the rule engine, or a guard model. */
export interface ModerationBackend {
  /** The model id it answers as. */
  readonly id: string;
  /** One verdict per text, in order. */
  classify(texts: readonly string[], signal: AbortSignal): Promise<ModerationVerdict[]>;
}

/**
 * The moderation models served here, by name (ids and aliases): `/v1/moderations` for names no
 * upstream model has, and the moderation checks of guardrails.
 */
export class ModerationService {
  readonly #byName = new Map<string, ModerationBackend>();

  /** Adds a backend under its id and `aliases`; names already taken (by an earlier backend) are skipped. */
  add(backend: ModerationBackend, aliases: readonly string[]): void {
    for (const name of [backend.id, ...aliases]) if (!this.#byName.has(name)) this.#byName.set(name, backend);
  }

  /** The backend for a name, if one answers to it here. */
  find(name: string): ModerationBackend | undefined {
    return this.#byName.get(name);
  }

  /** Every name answered here. */
  names(): string[] {
    return [...this.#byName.keys()];
  }

  /**
   * One verdict per item (an item's texts are classified one by one and combined). The backends here
   * read text only: an image part is a 400 naming it.
   */
  async moderate(name: string, items: readonly ModerationItem[], signal: AbortSignal): Promise<ModerationVerdict[]> {
    const backend = this.#byName.get(name);
    if (backend === undefined) throw modelNotFound(name);
    for (const item of items) {
      const image = item.images[0];
      if (image !== undefined) {
        throw invalidRequest(`The moderation model '${name}' reads text only; it cannot classify images.`, image.param, "unsupported_content_type");
      }
    }
    const texts = items.flatMap((i) => i.texts);
    const verdicts = texts.length === 0 ? [] : await backend.classify(texts, signal);
    if (verdicts.length !== texts.length) throw new ApiError(500, `The moderation model '${name}' gave ${verdicts.length} verdicts for ${texts.length} texts.`, { type: "server_error" });
    let next = 0;
    return items.map((item) => {
      const mine = verdicts.slice(next, next + item.texts.length);
      next += item.texts.length;
      return mine.length === 0 ? emptyVerdict(["text"]) : combineVerdicts(mine);
    });
  }
}
