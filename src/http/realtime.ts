import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import type { Usage } from "../core/chat.ts";
import { ApiError, toApiError } from "../core/errors.ts";
import type { Logger } from "../logging/logger.ts";
import type { ChatModel } from "../providers/provider.ts";
import type { Principal } from "../services/access.ts";
import type { AudioService } from "../services/audio-service.ts";
import type { ChatService } from "../services/chat-service.ts";
import type { ModelRegistry } from "../services/model-registry.ts";
import { RealtimeSession } from "../services/realtime-session.ts";
import { proxyRealtime } from "./realtime-proxy.ts";
import type { RequestGate } from "../services/request-gate.ts";
import type { UsageMeter } from "../services/usage-meter.ts";
import type { RealtimeSecrets } from "../services/realtime-secrets.ts";
import { defaultRealtimeConfig, type RealtimeConfig } from "../protocol/openai/realtime.ts";
import { betaClientToGa, gaServerToBeta } from "../protocol/openai/realtime-beta.ts";

/** Browsers cannot set headers on a WebSocket: they send the key as a subprotocol with this prefix. */
const KEY_PROTOCOL = "openai-insecure-api-key.";

/** What the realtime endpoint needs. */
export interface RealtimeGatewayDeps {
  authenticate(header: string | undefined): Promise<Principal>;
  /** Ephemeral `ek_` secrets, tried before API keys. */
  secrets: RealtimeSecrets;
  registry: ModelRegistry;
  chat: ChatService;
  audio: AudioService;
  gate: RequestGate;
  meter: UsageMeter;
  logger: Logger;
  speechModel: string;
  transcriptionModel: string;
  limits: { maxSessionsPerProject: number; maxSessionSeconds: number; maxBufferBytes: number; idleTimeoutSeconds: number };
}

/** Answers an upgrade that will not happen with an HTTP error in OpenAI's envelope. */
function refuse(socket: Duplex, error: ApiError): void {
  const body = JSON.stringify(error.toJSON());
  const reason = { 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests" }[error.status] ?? "Error";
  socket.end(`HTTP/1.1 ${error.status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

/**
 * `GET /v1/realtime?model=…` upgraded to a WebSocket (library `ws`): authenticates the key (the
 * `Authorization` header, or the `openai-insecure-api-key.` subprotocol browsers use), resolves
 * the model, and runs one `RealtimeSession` per socket. Sessions per project are limited; idle and
 * over-long sessions are closed; `closeAll` ends every session at shutdown.
 */
export class RealtimeGateway {
  readonly #deps: RealtimeGatewayDeps;
  readonly #wss: WebSocketServer;
  /** Open sockets, and their local session (none for relayed ones). */
  readonly #open = new Map<WebSocket, { projectId: string; session: RealtimeSession | undefined }>();

  constructor(deps: RealtimeGatewayDeps) {
    this.#deps = deps;
    this.#wss = new WebSocketServer({
      noServer: true,
      // Appends carry up to 15 MiB of base64 audio, as OpenAI allows.
      maxPayload: 21 * 1024 * 1024,
      // The key subprotocol is never echoed back; `realtime` is, when offered.
      handleProtocols: (protocols) => (protocols.has("realtime") ? "realtime" : false),
    });
  }

  /** Takes an upgrade request: realtime sockets here, anything else a 404. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.#upgrade(req, socket, head).catch((error: unknown) => refuse(socket, toApiError(error)));
  }

  async #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname !== "/v1/realtime") throw new ApiError(404, `Invalid URL (GET ${url.pathname.slice(0, 200)})`, { type: "invalid_request_error", code: "unknown_url" });
    const offered = (req.headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim());
    const subprotocolKey = offered.find((p) => p.startsWith(KEY_PROTOCOL))?.slice(KEY_PROTOCOL.length);
    const header = req.headers.authorization ?? (subprotocolKey !== undefined ? `Bearer ${subprotocolKey}` : undefined);
    const token = /^Bearer\s+(ek_\S+)$/i.exec(header ?? "")?.[1];
    const grant = token === undefined ? undefined : this.#deps.secrets.resolve(token);
    if (token !== undefined && grant === undefined) throw new ApiError(401, "The client secret is invalid or has expired.", { type: "invalid_request_error", code: "invalid_api_key" });
    const principal = grant?.principal ?? (await this.#deps.authenticate(header));
    if (principal.admin) throw new ApiError(403, "Admin keys only work with /v1/organization endpoints; use a project key.", { type: "invalid_request_error", code: "forbidden" });
    const asked = url.searchParams.get("model");
    const intent = url.searchParams.get("intent");
    if (intent !== null && intent !== "transcription") throw new ApiError(400, `Invalid 'intent': '${intent.slice(0, 100)}'; the only intent is 'transcription'.`, { type: "invalid_request_error", code: "invalid_value", param: "intent" });
    if (grant !== undefined && asked !== null && asked !== grant.model) {
      throw new ApiError(400, `The client secret is for the model '${grant.model}', not '${asked}'.`, { type: "invalid_request_error", code: "invalid_value", param: "model" });
    }
    // A transcription session needs no chat model: its turns go to the transcription model.
    const name = grant?.model ?? asked ?? (intent === "transcription" ? this.#deps.transcriptionModel : null);
    if (name === null || name === "") throw new ApiError(400, "Missing required parameter: 'model'.", { type: "invalid_request_error", code: "missing_required_parameter", param: "model" });
    const model = this.#deps.registry.resolve(name);
    if (principal.models !== null && !principal.models.includes(name)) {
      throw new ApiError(403, `This API key is not allowed to use the model '${name}'.`, { type: "permission_error", code: "model_not_allowed", param: "model" });
    }
    const beta = /realtime=v1/.test(String(req.headers["openai-beta"] ?? ""));
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#run(ws, principal, name, model, grant?.config ?? (intent === "transcription" ? defaultRealtimeConfig("transcription") : undefined), beta));
  }

  #run(ws: WebSocket, principal: Principal, requested: string, model: ChatModel, config: RealtimeConfig | undefined, beta: boolean): void {
    const { limits, logger } = this.#deps;
    const open = [...this.#open.values()].filter((s) => s.projectId === principal.projectId).length;
    if (open >= limits.maxSessionsPerProject) {
      const error = { type: "invalid_request_error", code: "session_limit_reached", message: `This project already has ${open} open realtime sessions, the most allowed (realtime.maxSessionsPerProject).`, param: null, event_id: null };
      ws.send(JSON.stringify({ type: "error", event_id: "event_limit", error }));
      // 1008: policy violation.
      ws.close(1008, "session limit reached");
      return;
    }
    const target = model.capabilities.forwards.has("/realtime") ? model.realtimeTarget?.() : undefined;
    if (target !== undefined) {
      // A model routed upstream: the socket is relayed to its deployment as it is.
      this.#open.set(ws, { projectId: principal.projectId, session: undefined });
      ws.on("close", () => this.#open.delete(ws));
      logger.info("realtime session relayed", { project_id: principal.projectId, model: model.descriptor.id, deployment: target.deployment });
      proxyRealtime(ws, {
        target,
        headers: beta ? { "openai-beta": "realtime=v1" } : {},
        admit: async () => {
          const admission = await this.#deps.gate.admit(principal, requested, model, 0);
          await admission.finish(undefined);
        },
        meter: (usage) => this.#deps.meter.record({ principal, model: model.descriptor.id, endpoint: "/v1/realtime", usage, latencyMs: 0, status: 200, batch: false, pricing: model.descriptor.pricing }),
      });
      return;
    }
    const send = (event: Record<string, unknown>): void => {
      // Beta clients get beta event names and shapes; some GA events have no beta counterpart.
      const out = beta ? gaServerToBeta(event) : event;
      if (out !== undefined && ws.readyState === ws.OPEN) ws.send(JSON.stringify(out));
    };
    const session = new RealtimeSession(
      model,
      {
        chat: this.#deps.chat,
        projectId: principal.projectId,
        audio: this.#deps.audio,
        speechModel: this.#deps.speechModel,
        transcriptionModel: this.#deps.transcriptionModel,
        admit: (served, estimated) => this.#deps.gate.admit(principal, requested, served, estimated),
        meter: (served: ChatModel, usage: Usage, latencyMs: number, transcription?: boolean) =>
          this.#deps.meter.record({ principal, model: served.descriptor.id, endpoint: transcription ? "/v1/realtime/transcription" : "/v1/realtime", usage, latencyMs, status: 200, batch: false, pricing: served.descriptor.pricing }),
        maxSessionSeconds: limits.maxSessionSeconds,
        maxBufferBytes: limits.maxBufferBytes,
      },
      send,
      config,
    );
    this.#open.set(ws, { projectId: principal.projectId, session });
    logger.info("realtime session opened", { project_id: principal.projectId, model: model.descriptor.id });
    let idle: NodeJS.Timeout | undefined;
    const touch = (): void => {
      clearTimeout(idle);
      idle = setTimeout(() => ws.close(1000, "idle timeout"), limits.idleTimeoutSeconds * 1000);
      idle.unref();
    };
    const expiry = setTimeout(() => ws.close(1000, "session expired"), limits.maxSessionSeconds * 1000);
    expiry.unref();
    touch();
    ws.on("message", (data, binary) => {
      touch();
      if (binary) {
        send({ type: "error", event_id: "event_binary", error: { type: "invalid_request_error", code: "invalid_message", message: "Binary messages are not accepted: send JSON events as text.", param: null, event_id: null } });
        return;
      }
      const text = data.toString();
      if (!beta) {
        void session.handle(text);
        return;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        void session.handle(text);
        return;
      }
      void session.handle(JSON.stringify(betaClientToGa(parsed)));
    });
    ws.on("close", () => {
      clearTimeout(idle);
      clearTimeout(expiry);
      session.close();
      this.#open.delete(ws);
      logger.info("realtime session closed", { project_id: principal.projectId });
    });
    ws.on("error", () => ws.terminate());
    session.start();
  }

  /** Ends every session (shutdown): close code 1001, going away. */
  async closeAll(): Promise<void> {
    const closed = [...this.#open.keys()].map((ws) => new Promise<void>((resolve) => {
      ws.once("close", () => resolve());
      ws.close(1001, "server shutting down");
      setTimeout(() => {
        ws.terminate();
        resolve();
      }, 2000).unref();
    }));
    await Promise.all(closed);
    this.#wss.close();
  }
}
