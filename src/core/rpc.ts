import { ApiError, type ApiErrorType } from "./errors.ts";

/**
 * Calls between the processes of one server (`serve --workers N`): a worker asks the engine host
 * to run a method, gets its result, or a stream of items then a result, and may abort. Messages
 * travel over Node's IPC channel with the `advanced` (structured clone) serialization, so Maps and
 * typed arrays pass as they are.
 */
export type RpcMessage =
  | { rpc: "call"; id: number; method: string; args: unknown[] }
  | { rpc: "abort"; id: number }
  | { rpc: "item"; id: number; value: unknown }
  | { rpc: "done"; id: number; value: unknown }
  | { rpc: "fail"; id: number; error: EncodedError }
  | { rpc: "event"; name: string; value: unknown };

/** An error as it crosses a process boundary: API errors keep their status, type, code and param. */
export type EncodedError =
  | { api: true; status: number; message: string; type: ApiErrorType; code: string | null; param: string | null; headers: Record<string, string> }
  | { api: false; message: string };

/** One end of an IPC connection. */
export interface RpcChannel {
  send(message: RpcMessage): void;
  /** Listens for RPC messages (other messages on the same channel are ignored); returns the unsubscribe. */
  onMessage(listener: (message: RpcMessage) => void): () => void;
}

/** Whether a message on a shared IPC channel is one of ours. */
export function isRpcMessage(message: unknown): message is RpcMessage {
  return typeof message === "object" && message !== null && typeof (message as { rpc?: unknown }).rpc === "string";
}

export function encodeError(error: unknown): EncodedError {
  if (error instanceof ApiError) {
    return { api: true, status: error.status, message: error.message, type: error.type, code: error.code, param: error.param, headers: { ...error.headers } };
  }
  return { api: false, message: error instanceof Error ? error.message : String(error) };
}

export function decodeError(error: EncodedError): Error {
  if (error.api) return new ApiError(error.status, error.message, { type: error.type, code: error.code, param: error.param, headers: error.headers });
  return new Error(error.message);
}

/** The error of every call still open when the other process goes away. */
export class RpcClosedError extends Error {
  constructor() {
    super("the engine host process is gone");
    this.name = "RpcClosedError";
  }
}

interface Pending {
  onItem(value: unknown): void;
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/** A method's stream of items, then its result (available once the items end, however they end). */
export interface RpcStream<T, R> extends AsyncIterable<T> {
  readonly result: Promise<R>;
}

/** The calling end. */
export class RpcClient {
  readonly #channel: RpcChannel;
  readonly #pending = new Map<number, Pending>();
  readonly #events = new Map<string, (value: unknown) => void>();
  #nextId = 1;
  #closed = false;

  constructor(channel: RpcChannel) {
    this.#channel = channel;
    channel.onMessage((message) => this.#receive(message));
  }

  #receive(message: RpcMessage): void {
    if (message.rpc === "event") {
      this.#events.get(message.name)?.(message.value);
      return;
    }
    if (message.rpc === "call" || message.rpc === "abort") return;
    const pending = this.#pending.get(message.id);
    if (pending === undefined) return;
    if (message.rpc === "item") {
      pending.onItem(message.value);
      return;
    }
    this.#pending.delete(message.id);
    if (message.rpc === "done") pending.resolve(message.value);
    else pending.reject(decodeError(message.error));
  }

  /** Listens for pushed events of one name (the host's model stats, say). */
  onEvent(name: string, listener: (value: unknown) => void): void {
    this.#events.set(name, listener);
  }

  #start(method: string, args: unknown[], onItem: (value: unknown) => void, signal: AbortSignal | undefined): { id: number; result: Promise<unknown> } {
    const id = this.#nextId++;
    const result = new Promise<unknown>((resolve, reject) => {
      if (this.#closed) {
        reject(new RpcClosedError());
        return;
      }
      this.#pending.set(id, { onItem, resolve, reject });
    });
    if (!this.#closed) this.#channel.send({ rpc: "call", id, method, args });
    if (signal !== undefined) {
      const abort = (): void => {
        if (this.#pending.has(id)) this.#channel.send({ rpc: "abort", id });
      };
      if (signal.aborted) abort();
      else {
        signal.addEventListener("abort", abort, { once: true });
        void result.finally(() => signal.removeEventListener("abort", abort)).catch(() => undefined);
      }
    }
    return { id, result };
  }

  /** Calls a method and resolves to its result. */
  call<R>(method: string, args: unknown[], signal?: AbortSignal): Promise<R> {
    return this.#start(method, args, () => undefined, signal).result as Promise<R>;
  }

  /**
   * Calls a streaming method. Leaving the iteration early aborts the call on the other side; the
   * result still arrives (a generation reports the tokens it used however it ended).
   */
  stream<T, R>(method: string, args: unknown[], signal: AbortSignal): RpcStream<T, R> {
    const items: T[] = [];
    let wake: (() => void) | undefined;
    let ended = false;
    const local = new AbortController();
    const onAbort = (): void => local.abort();
    if (signal.aborted) local.abort();
    else signal.addEventListener("abort", onAbort, { once: true });
    const { result } = this.#start(
      method,
      args,
      (value) => {
        items.push(value as T);
        wake?.();
      },
      local.signal,
    );
    void result.then(
      () => undefined,
      () => undefined,
    ).finally(() => {
      ended = true;
      signal.removeEventListener("abort", onAbort);
      wake?.();
    });
    async function* iterate(): AsyncGenerator<T> {
      try {
        for (;;) {
          if (items.length > 0) {
            yield items.shift() as T;
            continue;
          }
          if (ended) {
            // Surfaces a failure (an API error before the first item, say) to the consumer.
            await result;
            return;
          }
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
        }
      } finally {
        if (!ended) local.abort();
      }
    }
    return { [Symbol.asyncIterator]: iterate, result: result as Promise<R> };
  }

  /** Fails every open call: the other process is gone. */
  close(): void {
    this.#closed = true;
    for (const pending of this.#pending.values()) pending.reject(new RpcClosedError());
    this.#pending.clear();
  }
}

/** A method served to the other process: resolves to its result; streams emit items first. */
export type RpcHandler = (args: unknown[], signal: AbortSignal, emit: (item: unknown) => void) => Promise<unknown>;

/** The serving end: runs calls from one channel with the given handlers. */
export class RpcServer {
  readonly #channel: RpcChannel;
  readonly #handlers: ReadonlyMap<string, RpcHandler>;
  readonly #running = new Map<number, AbortController>();
  readonly #unsubscribe: () => void;

  constructor(channel: RpcChannel, handlers: ReadonlyMap<string, RpcHandler>) {
    this.#channel = channel;
    this.#handlers = handlers;
    this.#unsubscribe = channel.onMessage((message) => this.#receive(message));
  }

  #receive(message: RpcMessage): void {
    if (message.rpc === "abort") {
      this.#running.get(message.id)?.abort();
      return;
    }
    if (message.rpc !== "call") return;
    const { id } = message;
    const handler = this.#handlers.get(message.method);
    if (handler === undefined) {
      this.#channel.send({ rpc: "fail", id, error: { api: false, message: `unknown method ${message.method}` } });
      return;
    }
    const controller = new AbortController();
    this.#running.set(id, controller);
    handler(message.args, controller.signal, (item) => this.#channel.send({ rpc: "item", id, value: item })).then(
      (value) => this.#channel.send({ rpc: "done", id, value }),
      (error: unknown) => this.#channel.send({ rpc: "fail", id, error: encodeError(error) }),
    ).finally(() => this.#running.delete(id));
  }

  /** Pushes an event to the other process. */
  emit(name: string, value: unknown): void {
    this.#channel.send({ rpc: "event", name, value });
  }

  /** Aborts every call still running (the other process is gone). */
  close(): void {
    this.#unsubscribe();
    for (const controller of this.#running.values()) controller.abort();
    this.#running.clear();
  }
}
