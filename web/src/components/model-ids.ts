import { api, projectKey } from "../api.ts";
import type { ServerStatus } from "../types.ts";

/** The served model ids, from the admin status (ids are what rate limits are keyed by). */
export async function adminModelIds(signal?: AbortSignal): Promise<string[]> {
  const status = await api<ServerStatus>("/v1/organization/status", signal === undefined ? {} : { signal });
  return status.models.map((m) => m.id).sort();
}

/** The models the chosen project key may use (`GET /v1/models`), else every model from the admin status. */
export async function usableModelIds(signal?: AbortSignal): Promise<string[]> {
  if (projectKey() === null) return adminModelIds(signal);
  const list = await api<{ data: { id: string }[] }>("/v1/models", { as: "project", ...(signal === undefined ? {} : { signal }) });
  return list.data.map((m) => m.id).sort();
}
