import type { ChatMessage, ChatRequest, ChatStreamPart, ToolCall, ToolDefinition, Usage } from "../core/chat.ts";
import { ApiError, invalidRequest } from "../core/errors.ts";
import { toGrammarSchema } from "../protocol/openai/json-schema-subset.ts";
import type { ContainerFileRef } from "../protocol/openai/responses-stream.ts";
import { CODE_INTERPRETER_FUNCTION } from "../protocol/openai/responses-to-chat.ts";
import type { CodeInterpreterOutput, CodeInterpreterSettings, RequestInputItem, ResponseOutputItem } from "../protocol/openai/responses-types.ts";
import { PythonSandbox, sandboxSupport, type SandboxLimits } from "../providers/sandbox/python-sandbox.ts";
import type { ChatRun } from "./chat-service.ts";
import type { ContainerService } from "./container-service.ts";

/** The code interpreter's limits (config `codeInterpreter`). */
export interface CodeInterpreterConfig {
  enabled: boolean;
  /** Sandbox limits; the address-space limit is the container's `memory_limit`, at most `maxMemoryBytes`. */
  limits: Omit<SandboxLimits, "memoryBytes">;
  maxMemoryBytes: number;
  /** Code runs per response, at most (a request's `max_tool_calls` may lower it). */
  maxCallsPerResponse: number;
  /** A container's Python process is ended after this long unused (its files stay). */
  idleSessionSeconds: number;
  /** USD per session (a container's Python process started), as OpenAI charges per container. */
  sessionPriceUsd: number;
}

/** What the loop yields: the model's parts, and the code calls it makes, as they happen. */
export type CodeLoopPart =
  | ChatStreamPart
  | { type: "code-start"; callId: string }
  | { type: "code-delta"; callId: string; text: string }
  | { type: "code-run"; callId: string; code: string }
  | { type: "code-done"; callId: string; outputs: CodeInterpreterOutput[]; files: ContainerFileRef[] };

/** Figures larger than this are left as files, not inlined as images. */
const MAX_IMAGE_BYTES = 8 * 2 ** 20;

const MEMORY = { "1g": 2 ** 30, "4g": 4 * 2 ** 30, "16g": 16 * 2 ** 30, "64g": 64 * 2 ** 30 } as const;

const PYTHON_PARAMETERS = { type: "object", properties: { code: { type: "string", description: "Python 3 source to run." } }, required: ["code"], additionalProperties: false };

/** The function the model is given to run code. */
export const PYTHON_TOOL: ToolDefinition = {
  name: CODE_INTERPRETER_FUNCTION,
  description:
    "Runs Python 3 code in a persistent session (variables survive between calls), with numpy, pandas and matplotlib, and no network. " +
    "Files are in /mnt/data; files written there are given to the user, and matplotlib figures left open are shown. " +
    "The last expression's value and everything printed is returned.",
  parameters: toGrammarSchema(PYTHON_PARAMETERS, "tools", true, "function 'python'"),
  wireParameters: PYTHON_PARAMETERS,
  strict: true,
};

/**
 * The code the model has written so far, from the JSON arguments of its call as they stream in
 * (`{"code": "…` with the string unfinished): what can be decoded up to the last complete escape.
 */
export function partialCode(args: string): string {
  const start = /"code"\s*:\s*"/.exec(args);
  if (start === null) return "";
  let raw = args.slice(start.index + start[0].length);
  // The closing quote, if it has come: the first quote not escaped.
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === "\\") i++;
    else if (raw[i] === '"') {
      raw = raw.slice(0, i);
      break;
    }
  }
  // An escape cut in half waits for the rest.
  const cut = /\\(u[0-9a-fA-F]{0,3})?$/.exec(raw);
  if (cut !== null && !/(^|[^\\])(\\\\)+$/.test(raw)) raw = raw.slice(0, cut.index);
  try {
    return JSON.parse(`"${raw}"`) as string;
  } catch {
    return "";
  }
}

/** The code of a finished call: its `code` argument, or the arguments themselves when they are not that JSON. */
function callCode(args: string): string {
  try {
    const parsed = JSON.parse(args) as { code?: unknown };
    if (typeof parsed.code === "string") return parsed.code;
  } catch {
    // A model that wrote bare code rather than JSON: run what it wrote.
  }
  return args;
}

function addUsage(a: Usage | undefined, b: Usage): Usage {
  if (a === undefined) return b;
  return {
    promptTokens: a.promptTokens + b.promptTokens,
    completionTokens: a.completionTokens + b.completionTokens,
    cachedTokens: a.cachedTokens + b.cachedTokens,
    reasoningTokens: a.reasoningTokens + b.reasoningTokens,
  };
}

/**
 * The built-in `code_interpreter` tool for any chat model: the model is given a `python` function;
 * each call runs in the container's sandboxed Python session and its output goes back to the model,
 * which is asked again, until it answers without running code or the calls run out.
 */
export class CodeInterpreterTool {
  readonly #containers: ContainerService;
  readonly #config: CodeInterpreterConfig;
  readonly #sessions = new Map<string, { sandbox: PythonSandbox; usedAt: number }>();
  readonly #sweeper: NodeJS.Timeout;

  constructor(containers: ContainerService, config: CodeInterpreterConfig) {
    this.#containers = containers;
    this.#config = config;
    this.#sweeper = setInterval(() => this.#sweep(), 30_000);
    this.#sweeper.unref();
  }

  /** A 400 naming the tool when code cannot run here (disabled, or no sandbox), never unsandboxed. */
  check(settings: CodeInterpreterSettings): void {
    if (!this.#config.enabled) throw invalidRequest("The 'code_interpreter' tool is disabled on this server (codeInterpreter.enabled).", `${settings.param}.type`, "unsupported_parameter");
    const support = sandboxSupport();
    if (!support.ok) throw invalidRequest(`The 'code_interpreter' tool is not available on this server: ${support.why}.`, `${settings.param}.type`, "unsupported_parameter");
  }

  /**
   * The container a turn runs code in: the one named, else (auto) the newest one a past call in the
   * turn's history used while it is still alive, else a new one with the files asked for.
   */
  async container(projectId: string, settings: CodeInterpreterSettings, history: readonly (RequestInputItem | ResponseOutputItem)[]): Promise<string> {
    const spec = settings.container;
    if ("id" in spec) {
      try {
        return (await this.#containers.get(projectId, spec.id)).id;
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) throw new ApiError(404, error.message, { type: "invalid_request_error", code: "container_not_found", param: `${settings.param}.container` });
        throw error;
      }
    }
    for (let i = history.length - 1; i >= 0; i--) {
      const item = history[i];
      if (item?.type !== "code_interpreter_call") continue;
      try {
        const alive = await this.#containers.get(projectId, item.container_id);
        for (const fileId of spec.fileIds) await this.#containers.addFromFileId(projectId, alive.id, fileId, `${settings.param}.container.file_ids`);
        return alive.id;
      } catch {
        break;
      }
    }
    const created = await this.#containers.create(projectId, { name: "code-interpreter", fileIds: spec.fileIds, expiresAfterMinutes: 20, memoryLimit: spec.memoryLimit });
    return created.id;
  }

  /**
   * Runs the model and the code it writes: `first` is the model's first run (with {@link PYTHON_TOOL}
   * among its tools), `start` starts the next. Usage parts are summed over the runs, yielded and
   * reported to `onUsage` as a running total.
   */
  async *loop(
    first: ChatRun,
    request: ChatRequest,
    ctx: {
      projectId: string;
      containerId: string;
      maxCalls: number;
      signal: AbortSignal;
      start: (request: ChatRequest) => Promise<ChatRun>;
      onUsage: (usage: Usage) => void;
      /** A session started (to meter): the container's Python process was not running. */
      onSession: () => void;
    },
  ): AsyncGenerator<CodeLoopPart> {
    let run = first;
    let messages = request.messages;
    let calls = 0;
    let total: Usage | undefined;
    for (;;) {
      const pending = new Map<number, { id: string; args: string; shown: number }>();
      // Out of calls, a model that still calls the function (one that ignores tool_choice) is not obeyed.
      const ignored = new Set<number>();
      const mayRun = calls < ctx.maxCalls;
      let text = "";
      let finish: ChatStreamPart | undefined;
      let otherCalls: ToolCall[] = [];
      try {
        for (let step = run.first; !step.done; step = await run.parts.next()) {
          const part = step.value;
          if (part.type === "usage") {
            // The builder and the meter keep the last usage they are given: give them the sum of all runs.
            total = addUsage(total, part.usage);
            ctx.onUsage(total);
            yield { type: "usage", usage: total };
            continue;
          }
          if (part.type === "served-by") {
            yield part;
            continue;
          }
          if (part.choice !== 0) continue;
          if (part.type === "tool-call-start" && part.name === CODE_INTERPRETER_FUNCTION && !mayRun) {
            ignored.add(part.index);
            continue;
          }
          if (part.type === "tool-call-delta" && ignored.has(part.index)) continue;
          if (part.type === "tool-call-start" && part.name === CODE_INTERPRETER_FUNCTION) {
            pending.set(part.index, { id: part.id, args: "", shown: 0 });
            yield { type: "code-start", callId: part.id };
            continue;
          }
          const call = part.type === "tool-call-delta" ? pending.get(part.index) : undefined;
          if (call !== undefined && part.type === "tool-call-delta") {
            call.args += part.arguments;
            const code = partialCode(call.args);
            if (code.length > call.shown) {
              yield { type: "code-delta", callId: call.id, text: code.slice(call.shown) };
              call.shown = code.length;
            }
            continue;
          }
          if (part.type === "finish" && pending.size > 0) {
            finish = part;
            continue;
          }
          if (part.type === "tool-call-start") otherCalls = [...otherCalls, { id: part.id, name: part.name, arguments: "" }];
          if (part.type === "text-delta") text += part.text;
          yield part;
        }
      } finally {
        await run.parts.return?.(undefined);
      }
      if (pending.size === 0) return;
      const toolCalls: ToolCall[] = [];
      const results: ChatMessage[] = [];
      for (const call of pending.values()) {
        const code = callCode(call.args);
        yield { type: "code-run", callId: call.id, code };
        const ran = await this.execute(ctx.projectId, ctx.containerId, code, ctx.signal, ctx.onSession);
        yield { type: "code-done", callId: call.id, outputs: ran.outputs, files: ran.files };
        toolCalls.push({ id: call.id, name: CODE_INTERPRETER_FUNCTION, arguments: JSON.stringify({ code }) });
        results.push({ role: "tool", content: ran.forModel, toolCallId: call.id });
        calls++;
      }
      if (otherCalls.length > 0) {
        // The client's functions were called too: the response ends for it to answer them.
        if (finish !== undefined) yield finish;
        return;
      }
      messages = [...messages, { role: "assistant", content: text, toolCalls }, ...results];
      // Out of calls, the model must answer with what it has.
      const next: ChatRequest = calls >= ctx.maxCalls ? { ...request, messages, toolChoice: "none" } : { ...request, messages, toolChoice: "auto" };
      run = await ctx.start(next);
    }
  }

  /** Runs code in a container's session (started on first use) and records the files it wrote. */
  async execute(projectId: string, containerId: string, code: string, signal: AbortSignal, onSession: () => void = () => undefined): Promise<{ outputs: CodeInterpreterOutput[]; files: ContainerFileRef[]; forModel: string }> {
    const container = await this.#containers.get(projectId, containerId);
    let session = this.#sessions.get(container.id);
    if (session === undefined) {
      const memoryBytes = Math.min(MEMORY[container.memoryLimit], this.#config.maxMemoryBytes);
      session = { sandbox: new PythonSandbox(this.#containers.directory(container.id), { ...this.#config.limits, memoryBytes }), usedAt: Date.now() };
      this.#sessions.set(container.id, session);
    }
    session.usedAt = Date.now();
    if (!session.sandbox.running) onSession();
    const ran = await session.sandbox.run(code, signal);
    await this.#containers.touch(container.id);
    const written = await this.#containers.syncFiles(projectId, container.id);
    const outputs: CodeInterpreterOutput[] = [];
    if (ran.logs !== "") outputs.push({ type: "logs", logs: ran.logs });
    // The figures the driver reports are only a claim of code the model wrote: an image is shown only
    // when it is a container file the sync recorded (a regular file, not a link out), read safely.
    const records = await this.#containers.listAllFiles(projectId, container.id);
    for (const path of ran.images) {
      const record = records.find((f) => f.path === path);
      if (record === undefined || record.bytes > MAX_IMAGE_BYTES) continue;
      const opened = await this.#containers.openFile(projectId, container.id, record.id).catch(() => undefined);
      if (opened === undefined) continue;
      try {
        const png = await opened.handle.readFile();
        if (png.subarray(1, 4).toString() === "PNG") outputs.push({ type: "image", url: `data:image/png;base64,${png.toString("base64")}` });
      } finally {
        await opened.handle.close();
      }
    }
    const files = written.map((f) => ({ containerId: container.id, fileId: f.id, path: f.path }));
    const notes = [
      ...ran.images.map((p) => `[figure saved as ${p}]`),
      ...written.filter((f) => !ran.images.includes(f.path)).map((f) => `[file written: ${f.path}]`),
    ];
    const forModel = [ran.logs === "" ? (ran.ok ? "(no output)" : "") : ran.logs, ...notes].filter((t) => t !== "").join("\n");
    return { outputs, files, forModel };
  }

  /** What one session costs, as a price the usage meter applies to one unit of input. */
  get sessionPricing(): { input: number; cachedInput: number; output: number } {
    return { input: this.#config.sessionPriceUsd * 1_000_000, cachedInput: 0, output: 0 };
  }

  /** Ends every session (shutdown). */
  dispose(): void {
    clearInterval(this.#sweeper);
    for (const { sandbox } of this.#sessions.values()) sandbox.dispose();
    this.#sessions.clear();
  }

  #sweep(): void {
    const idle = Date.now() - this.#config.idleSessionSeconds * 1000;
    for (const [id, session] of this.#sessions) {
      if (session.usedAt < idle) {
        session.sandbox.dispose();
        this.#sessions.delete(id);
      }
    }
  }
}
