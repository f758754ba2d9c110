/**
 * OpenAI's list envelope. An empty page has null `first_id` and `last_id`, as OpenAI's lists (and
 * this server's admin lists) answer, though the spec types them as strings.
 */
export function renderList<T extends { id: string }>(data: readonly T[], hasMore: boolean): {
  object: "list";
  data: readonly T[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
} {
  return { object: "list", data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: hasMore };
}
