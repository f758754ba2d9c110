import { raw } from "./server.ts";

/**
 * Creates one project per name through the admin API, each with one key, and returns the keys'
 * secrets in the same order.
 */
export async function createProjectKeys(server: { url: string }, adminKey: string, names: readonly string[]): Promise<string[]> {
  const admin = (path: string, body: unknown) => raw(server, path, { body: JSON.stringify(body), headers: { authorization: `Bearer ${adminKey}` } });
  const keys: string[] = [];
  for (const name of names) {
    const project = (await admin("/v1/organization/projects", { name })).body as { id: string };
    keys.push(((await admin(`/v1/organization/projects/${project.id}/api_keys`, { name })).body as { value: string }).value);
  }
  return keys;
}
