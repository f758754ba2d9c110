import { modelNotFound } from "../core/errors.ts";
import type { ChatModel } from "../providers/provider.ts";

/** Public model names (ids and aliases) mapped to the models that serve them. */
export class ModelRegistry {
  readonly #byName = new Map<string, ChatModel>();
  readonly #models: ChatModel[] = [];

  /** Adds a model; a name already taken is an error, so no request is ever routed by accident. */
  add(model: ChatModel): void {
    const names = [model.descriptor.id, ...model.descriptor.aliases];
    for (const name of names) {
      if (this.#byName.has(name)) throw new Error(`Model name '${name}' is used twice`);
    }
    for (const name of names) this.#byName.set(name, model);
    this.#models.push(model);
  }

  /** The model for a public name, or a 404 `model_not_found`. */
  resolve(name: string): ChatModel {
    const model = this.#byName.get(name);
    if (model === undefined) throw modelNotFound(name);
    return model;
  }

  /** The model for a public name, if there is one. */
  find(name: string): ChatModel | undefined {
    return this.#byName.get(name);
  }

  has(name: string): boolean {
    return this.#byName.has(name);
  }

  list(): readonly ChatModel[] {
    return this.#models;
  }
}
