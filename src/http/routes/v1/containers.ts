import { extname } from "node:path";
import { pipeline } from "node:stream/promises";
import { ApiError } from "../../../core/errors.ts";
import { parseCreateContainer, parseCreateContainerFile, renderContainer, renderContainerFile } from "../../../protocol/openai/containers.ts";
import { renderDeleted } from "../../../protocol/openai/deleted.ts";
import { renderList } from "../../../protocol/openai/lists.ts";
import { DEFAULT_CONTAINER_EXPIRY_MINUTES, DEFAULT_CONTAINER_MEMORY_LIMIT, type ContainerService, type StagedFile } from "../../../services/container-service.ts";
import { fileTooLarge } from "../../../storage/file-store.ts";
import { readMultipart, refuseBody } from "../../multipart.ts";
import { sendJson } from "../../respond.ts";
import type { RequestContext, Route } from "../../router.ts";
import { cleanFilename } from "./files.ts";
import { readPageQuery } from "./paging.ts";

/** What the Containers API needs. */
export interface ContainerDeps {
  containers: ContainerService;
  /** The largest file a client may upload into a container (`files.maxBytes`). */
  maxBytes: number;
}

/** Content types of the files code usually writes; anything else is `application/octet-stream`. */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".csv": "text/csv; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".md": "text/markdown; charset=utf-8",
  ".json": "application/json",
  ".html": "text/html; charset=utf-8",
  ".xml": "application/xml",
  ".py": "text/x-python; charset=utf-8",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".svg": "image/svg+xml",
  ".webp": "image/webp",
  ".pdf": "application/pdf",
  ".zip": "application/zip",
  ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
};

/** The content type a container file is served with, from its extension. */
export function containerFileContentType(path: string): string {
  return CONTENT_TYPES[extname(path).toLowerCase()] ?? "application/octet-stream";
}

const containerId = (ctx: RequestContext): string => ctx.params.container_id ?? "";
const fileId = (ctx: RequestContext): string => ctx.params.file_id ?? "";

/**
 * OpenAI's Containers API (`/v1/containers…`): containers owned by the caller's project and the
 * files in them. Files are added as JSON `{file_id}` (a Files API file copied in) or as a multipart
 * upload with a `file` part, streamed to disk.
 */
export function containerRoutes(deps: ContainerDeps): Route[] {
  const { containers, maxBytes } = deps;
  return [
    {
      method: "POST",
      pattern: "/v1/containers",
      handler: async (ctx) => {
        const body = parseCreateContainer(await ctx.readJson(), { expiresAfterMinutes: DEFAULT_CONTAINER_EXPIRY_MINUTES, memoryLimit: DEFAULT_CONTAINER_MEMORY_LIMIT });
        sendJson(ctx.res, 200, renderContainer(await containers.create(ctx.principal.projectId, body)));
      },
    },
    {
      method: "GET",
      pattern: "/v1/containers",
      handler: async (ctx) => {
        const page = readPageQuery(ctx.query, "desc");
        const name = ctx.query.get("name");
        const { data, hasMore } = await containers.list(ctx.principal.projectId, { ...page, name: name === null || name === "" ? undefined : name });
        sendJson(ctx.res, 200, renderList(data.map((c) => renderContainer(c)), hasMore));
      },
    },
    {
      method: "GET",
      pattern: "/v1/containers/:container_id",
      handler: async (ctx) => sendJson(ctx.res, 200, renderContainer(await containers.retrieve(ctx.principal.projectId, containerId(ctx)))),
    },
    {
      method: "DELETE",
      pattern: "/v1/containers/:container_id",
      handler: async (ctx) => {
        const id = containerId(ctx);
        await containers.delete(ctx.principal.projectId, id);
        sendJson(ctx.res, 200, renderDeleted(id, "container.deleted"));
      },
    },
    {
      method: "POST",
      pattern: "/v1/containers/:container_id/files",
      handler: async (ctx) => {
        const projectId = ctx.principal.projectId;
        const id = containerId(ctx);
        if (/^application\/json\b/i.test(ctx.req.headers["content-type"] ?? "")) {
          const { fileId: source } = parseCreateContainerFile(await ctx.readJson());
          sendJson(ctx.res, 200, renderContainerFile(await containers.addFromFileId(projectId, id, source)));
          return;
        }
        try {
          await containers.get(projectId, id);
        } catch (error) {
          if (error instanceof ApiError) return refuseBody(ctx.req, error);
          throw error;
        }
        const form = await readMultipart<StagedFile>(ctx.req, {
          fileField: "file",
          textFields: [],
          maxFileBytes: maxBytes,
          tooLarge: () => fileTooLarge(maxBytes),
          store: (stream) => containers.stage(stream),
          discard: (staged) => containers.discardStaged(staged),
        });
        const record = await containers.addStaged(projectId, id, cleanFilename(form.info.filename), form.file);
        sendJson(ctx.res, 200, renderContainerFile(record));
      },
    },
    {
      method: "GET",
      pattern: "/v1/containers/:container_id/files",
      handler: async (ctx) => {
        const page = readPageQuery(ctx.query, "desc");
        const { data, hasMore } = await containers.listFiles(ctx.principal.projectId, containerId(ctx), page);
        sendJson(ctx.res, 200, renderList(data.map(renderContainerFile), hasMore));
      },
    },
    {
      method: "GET",
      pattern: "/v1/containers/:container_id/files/:file_id",
      handler: async (ctx) => sendJson(ctx.res, 200, renderContainerFile(await containers.getFile(ctx.principal.projectId, containerId(ctx), fileId(ctx)))),
    },
    {
      method: "GET",
      pattern: "/v1/containers/:container_id/files/:file_id/content",
      handler: async (ctx) => {
        // The size as it is when opened (code may have rewritten the file since it was last
        // recorded), and no byte beyond it, so the length sent holds even if the file grows meanwhile.
        const { file, handle, size } = await containers.openFile(ctx.principal.projectId, containerId(ctx), fileId(ctx));
        const name = file.path.split("/").pop() ?? "file";
        ctx.res.writeHead(200, {
          "content-type": containerFileContentType(file.path),
          "content-length": String(size),
          "content-disposition": `attachment; filename*=UTF-8''${encodeURIComponent(name)}`,
        });
        if (size === 0) {
          await handle.close();
          ctx.res.end();
          return;
        }
        const stream = handle.createReadStream({ start: 0, end: size - 1 });
        await pipeline(stream, ctx.res);
      },
    },
    {
      method: "DELETE",
      pattern: "/v1/containers/:container_id/files/:file_id",
      handler: async (ctx) => {
        const id = fileId(ctx);
        await containers.deleteFile(ctx.principal.projectId, containerId(ctx), id);
        sendJson(ctx.res, 200, renderDeleted(id, "container.file.deleted"));
      },
    },
  ];
}
