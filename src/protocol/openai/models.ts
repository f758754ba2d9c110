import type { ModelDescriptor } from "../../providers/provider.ts";

/** An OpenAI `model` object for one public id (a model's own id or one of its aliases). */
export function renderModel(id: string, model: ModelDescriptor): Record<string, unknown> {
  return { id, object: "model", created: model.created, owned_by: model.ownedBy };
}

/** The `GET /v1/models` list: every model and every alias in configuration order, or only the `allowed` names. */
export function renderModelList(models: readonly ModelDescriptor[], allowed: readonly string[] | null = null): Record<string, unknown> {
  const data = models.flatMap((m) => [m.id, ...m.aliases].filter((id) => allowed === null || allowed.includes(id)).map((id) => renderModel(id, m)));
  return { object: "list", data };
}
