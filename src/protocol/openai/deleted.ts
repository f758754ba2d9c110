/**
 * The `{id, object, deleted: true}` answer to deleting an object, `object` naming what was deleted
 * (`file`, `response`, `vector_store.deleted`, …). Chat completions and API keys answer with
 * `object` first, so they keep renderers of their own.
 */
export function renderDeleted<O extends string>(id: string, object: O): { id: string; object: O; deleted: true } {
  return { id, object, deleted: true };
}
