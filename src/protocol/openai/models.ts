import type { ModelDescriptor } from "../../providers/provider.ts";

/** An OpenAI `model` object for one public id (a model's own id or one of its aliases). */
export function renderModel(id: string, model: ModelDescriptor): Record<string, unknown> {
  return { id, object: "model", created: model.created, owned_by: model.ownedBy };
}

/** The `GET /v1/models` list: every model and every alias, in configuration order. */
export function renderModelList(models: readonly ModelDescriptor[]): Record<string, unknown> {
  const data = models.flatMap((m) => [m.id, ...m.aliases].map((id) => renderModel(id, m)));
  return { object: "list", data };
}
