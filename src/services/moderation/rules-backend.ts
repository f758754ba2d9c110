import type { ModerationVerdict } from "../../guard/moderation-categories.ts";
import type { RuleEngine } from "../../guard/rules/rule-engine.ts";
import type { ModerationBackend } from "./moderation-service.ts";

/** The rule engine as a moderation model: synchronous, no model, a verdict per text. */
export class RulesModerationBackend implements ModerationBackend {
  readonly id: string;
  readonly #engine: RuleEngine;

  constructor(id: string, engine: RuleEngine) {
    this.id = id;
    this.#engine = engine;
  }

  async classify(texts: readonly string[]): Promise<ModerationVerdict[]> {
    return texts.map((text) => {
      const { flagged, categories, scores, appliedInputTypes } = this.#engine.classify(text);
      return { flagged, categories, scores, appliedInputTypes };
    });
  }
}
