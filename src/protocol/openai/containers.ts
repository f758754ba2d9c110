import { invalidRequest, unsupportedParameter } from "../../core/errors.ts";
import { CONTAINER_MEMORY_LIMITS, containerStatus, type ContainerFileRecord, type ContainerMemoryLimit, type ContainerRecord } from "../../storage/container-store.ts";
import { FieldReader, invalidValue } from "./validate.ts";

/** The body of `POST /v1/containers`, parsed. */
export interface CreateContainerRequest {
  name: string;
  fileIds: string[];
  expiresAfterMinutes: number;
  memoryLimit: ContainerMemoryLimit;
}

/** The bounds of `expires_after.minutes`: a minute to a day. */
export const CONTAINER_EXPIRY_MIN_MINUTES = 1;
export const CONTAINER_EXPIRY_MAX_MINUTES = 1440;
/** The most files a container may be created with. */
const MAX_FILE_IDS = 100;

/**
 * Reads the body of `POST /v1/containers` (CreateContainerBody): `name` required, `file_ids`,
 * `expires_after` (anchor `last_active_at`, default 20 minutes) and `memory_limit` (default `1g`).
 * `skills` is refused; `network_policy` only as `disabled` (code runs without a network).
 */
export function parseCreateContainer(body: unknown, defaults: { expiresAfterMinutes: number; memoryLimit: ContainerMemoryLimit }): CreateContainerRequest {
  const reader = new FieldReader(body, "");
  reader.rejectUnknown(new Set(["name", "file_ids", "expires_after", "skills", "memory_limit", "network_policy"]));
  const name = reader.string("name", { required: true, maxLength: 256 });
  const raw = reader.array("file_ids", { maxLength: MAX_FILE_IDS }) ?? [];
  const fileIds = raw.map((id, i) => {
    if (typeof id !== "string") throw invalidRequest(`Invalid type for 'file_ids[${i}]': expected a string, but got ${JSON.stringify(id)} instead.`, `file_ids[${i}]`, "invalid_type");
    if (id === "") throw invalidRequest(`Invalid 'file_ids[${i}]': empty string.`, `file_ids[${i}]`, "empty_string");
    return id;
  });
  let expiresAfterMinutes = defaults.expiresAfterMinutes;
  const expiresAfter = reader.object("expires_after");
  if (expiresAfter !== undefined) {
    expiresAfter.rejectUnknown(new Set(["anchor", "minutes"]));
    expiresAfter.enumeration("anchor", ["last_active_at"], { required: true });
    expiresAfter.required("minutes");
    expiresAfterMinutes = expiresAfter.number("minutes", { integer: true, min: CONTAINER_EXPIRY_MIN_MINUTES, max: CONTAINER_EXPIRY_MAX_MINUTES }) as number;
  }
  const memoryLimit = reader.enumeration("memory_limit", CONTAINER_MEMORY_LIMITS) ?? defaults.memoryLimit;
  const skills = reader.array("skills");
  if (skills !== undefined && skills.length > 0) throw unsupportedParameter("skills", "is not supported by this server: containers have no skills");
  const policy = reader.object("network_policy");
  if (policy !== undefined) {
    const type = policy.string("type", { required: true });
    if (type === "allowlist") throw unsupportedParameter("network_policy", "is not supported by this server with type 'allowlist': code in containers has no network access");
    if (type !== "disabled") throw invalidValue("network_policy.type", type, ["disabled", "allowlist"]);
    policy.rejectUnknown(new Set(["type"]));
  }
  return { name, fileIds, expiresAfterMinutes, memoryLimit };
}

/** Reads the JSON body of `POST /v1/containers/{id}/files`: `{file_id}`. */
export function parseCreateContainerFile(body: unknown): { fileId: string } {
  const reader = new FieldReader(body, "");
  reader.rejectUnknown(new Set(["file_id"]));
  return { fileId: reader.string("file_id", { required: true, nonEmpty: true }) };
}

/** The `container` object (ContainerResource) of a record. */
export function renderContainer(c: ContainerRecord, now?: number): { id: string } & Record<string, unknown> {
  return {
    id: c.id,
    object: "container",
    created_at: c.createdAt,
    status: containerStatus(c, now),
    expires_after: { anchor: "last_active_at", minutes: c.expiresAfterMinutes },
    last_active_at: c.lastActiveAt,
    memory_limit: c.memoryLimit,
    name: c.name,
  };
}

/** The `container.file` object (ContainerFileResource) of a record. */
export function renderContainerFile(f: ContainerFileRecord): { id: string } & Record<string, unknown> {
  return { id: f.id, object: "container.file", created_at: f.createdAt, bytes: f.bytes, container_id: f.containerId, path: f.path, source: f.source };
}
