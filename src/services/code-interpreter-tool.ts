import type { ToolDefinition } from "../core/chat.ts";
import { ApiError, invalidRequest } from "../core/errors.ts";
import { toGrammarSchema } from "../protocol/openai/json-schema-subset.ts";
import type { ContainerFileRef } from "../protocol/openai/responses-stream.ts";
import { CODE_INTERPRETER_FUNCTION } from "../protocol/openai/responses-to-chat.ts";
import type { CodeInterpreterOutput, CodeInterpreterSettings, RequestInputItem, ResponseOutputItem } from "../protocol/openai/responses-types.ts";
import { PythonSandbox, sandboxSupport, type SandboxLimits } from "../providers/sandbox/python-sandbox.ts";
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
export function callCode(args: string): string {
  try {
    const parsed = JSON.parse(args) as { code?: unknown };
    if (typeof parsed.code === "string") return parsed.code;
  } catch {
    // A model that wrote bare code rather than JSON: run what it wrote.
  }
  return args;
}

/**
 * The built-in `code_interpreter` tool for any chat model: the model is given a `python` function
 * ({@link PYTHON_TOOL}); each call runs in the container's sandboxed Python session, and the tool loop
 * (tool-loop.ts) gives its output back to the model.
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
