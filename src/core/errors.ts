/** The `type` values of OpenAI's error envelope that Modelport emits. */
export type ApiErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "not_found_error"
  | "rate_limit_error"
  | "insufficient_quota"
  | "server_error";

/**
 * An error that renders as OpenAI's envelope `{"error":{"message","type","param","code"}}`.
 * Services throw these; the HTTP layer's one error mapper renders them.
 */
export class ApiError extends Error {
  readonly status: number;
  readonly type: ApiErrorType;
  readonly code: string | null;
  readonly param: string | null;
  /** Extra response headers, such as `Retry-After` on a 503. */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: number,
    message: string,
    options: { type: ApiErrorType; code?: string | null; param?: string | null; headers?: Record<string, string> },
  ) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.type = options.type;
    this.code = options.code ?? null;
    this.param = options.param ?? null;
    this.headers = options.headers ?? {};
  }

  /** The wire body of this error. */
  toJSON(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** 400 `invalid_request_error` naming the offending parameter. */
export function invalidRequest(message: string, param: string | null, code: string | null = null): ApiError {
  return new ApiError(400, message, { type: "invalid_request_error", param, code });
}

/** 400 for a parameter that exists in OpenAI's API but that this server cannot honour. */
export function unsupportedParameter(param: string, detail?: string): ApiError {
  const reason = detail ?? "is not supported by this server yet";
  return invalidRequest(`The '${param}' parameter ${reason}.`, param, "unsupported_parameter");
}

/** 404 `model_not_found`, worded as OpenAI words it. */
export function modelNotFound(model: string): ApiError {
  return new ApiError(404, `The model '${model}' does not exist or you do not have access to it.`, {
    type: "invalid_request_error",
    code: "model_not_found",
    param: "model",
  });
}

/**
 * 404 for a stored object (conversation, item, stored chat completion) that does not exist or
 * belongs to another project: the two are indistinguishable, so no project learns of another's ids.
 * Worded as OpenAI words it: "Conversation with id 'conv_…' not found."
 */
export function objectNotFound(what: string, id: string, param: string, code: string): ApiError {
  return new ApiError(404, `${what} with id '${id}' not found.`, { type: "invalid_request_error", param, code });
}

/** 401 for a missing or wrong API key. */
export function invalidApiKey(message: string): ApiError {
  return new ApiError(401, message, { type: "authentication_error", code: "invalid_api_key" });
}

/** 503 with `Retry-After`, for work the server cannot take on now. */
export function overloaded(message: string, retryAfterSeconds: number): ApiError {
  return new ApiError(503, message, {
    type: "server_error",
    code: "server_overloaded",
    headers: { "retry-after": String(retryAfterSeconds) },
  });
}

/** 400 `context_length_exceeded`, naming the model's context and the tokens asked for. */
export function contextLengthExceeded(contextSize: number, promptTokens: number, maxTokens?: number): ApiError {
  const detail =
    maxTokens === undefined
      ? `However, your messages resulted in ${promptTokens} tokens. Please reduce the length of the messages.`
      : `However, you requested ${promptTokens + maxTokens} tokens (${promptTokens} in the messages, ${maxTokens} in the completion). Please reduce the length of the messages or completion.`;
  return invalidRequest(
    `This model's maximum context length is ${contextSize} tokens. ${detail}`,
    "messages",
    "context_length_exceeded",
  );
}

/** Wraps anything thrown into an ApiError; unknown failures become a 500 that reveals nothing internal. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  return new ApiError(500, "The server had an error while processing your request. Sorry about that!", {
    type: "server_error",
  });
}

/**
 * A file whose record exists but whose bytes are not in this server's data directory: a server that
 * shares another's database without sharing its data directory (or a directory restored without them).
 */
export function missingFileBytes(fileId: string): ApiError {
  return new ApiError(500, `The bytes of file '${fileId}' are missing from this server's data directory. Every server that shares a database must share its data directory (or blob store).`, {
    type: "server_error",
    code: "file_content_missing",
  });
}
