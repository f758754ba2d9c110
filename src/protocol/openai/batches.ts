import { prefixedId } from "../../core/ids.ts";
import type { BatchRecord } from "../../storage/batch-store.ts";

/** The wire `batch` object; fields not set yet are left out, as OpenAI's are (the spec types them non-null). */
export function renderBatch(b: BatchRecord): { id: string } & Record<string, unknown> {
  const u = b.usage;
  const all: Record<string, unknown> = {
    id: b.id,
    object: "batch",
    endpoint: b.endpoint,
    errors: b.errors === null ? null : { object: "list", data: b.errors },
    input_file_id: b.inputFileId,
    completion_window: b.completionWindow,
    status: b.status,
    output_file_id: b.outputFileId,
    error_file_id: b.errorFileId,
    created_at: b.createdAt,
    in_progress_at: b.inProgressAt,
    expires_at: b.expiresAt,
    finalizing_at: b.finalizingAt,
    completed_at: b.completedAt,
    failed_at: b.failedAt,
    expired_at: b.expiredAt,
    cancelling_at: b.cancellingAt,
    cancelled_at: b.cancelledAt,
    request_counts: { total: b.total, completed: b.completed, failed: b.failed },
    usage: {
      input_tokens: u.promptTokens,
      input_tokens_details: { cached_tokens: u.cachedTokens },
      output_tokens: u.completionTokens,
      output_tokens_details: { reasoning_tokens: u.reasoningTokens },
      total_tokens: u.promptTokens + u.completionTokens,
    },
    metadata: b.metadata,
  };
  // `id` is never null, so it stays first; naming it again only tells the type so.
  return { id: b.id, ...Object.fromEntries(Object.entries(all).filter(([, v]) => v !== null)) };
}

/** One line of a batch's output or error file: the answer (status, request id, body) to one input line. */
export function renderBatchResultLine(customId: string, statusCode: number, requestId: string, body: unknown): Record<string, unknown> {
  return { id: prefixedId("batch_req_", 32), custom_id: customId, response: { status_code: statusCode, request_id: requestId, body }, error: null };
}

/** One line of a batch's error file for an input line that was never run (the batch expired or was cancelled). */
export function renderBatchNotRunLine(customId: string, code: string, message: string): Record<string, unknown> {
  return { id: prefixedId("batch_req_", 32), custom_id: customId, response: null, error: { code, message } };
}
