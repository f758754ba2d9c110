import { mkdirSync } from "node:fs";
import { constants } from "node:fs";
import { lstat, mkdir, open, readdir, readlink, realpath, rename, rm, type FileHandle } from "node:fs/promises";
import { basename, dirname, join, sep } from "node:path";
import { Readable } from "node:stream";
import { invalidRequest, objectNotFound } from "../core/errors.ts";
import { randomHex, unixSeconds } from "../core/ids.ts";
import {
  CONTAINER_MOUNT,
  containerDiskPath,
  containerStatus,
  type ContainerFileRecord,
  type ContainerFileSource,
  type ContainerMemoryLimit,
  type ContainerRecord,
  type ContainerStore,
} from "../storage/container-store.ts";
import { BlobNotFoundError } from "../storage/blob-store.ts";
import { fileTooLarge, type FileStore } from "../storage/file-store.ts";
import { streamToFile } from "../storage/local-blob-store.ts";
import type { Page, PageQuery } from "../storage/object-store.ts";

export type { ContainerFileRecord, ContainerRecord } from "../storage/container-store.ts";

/** What a new container is made with (`POST /v1/containers`, or a code interpreter's `auto` container). */
export interface CreateContainerOptions {
  name: string;
  /** Files API files copied into `/mnt/data/` as source `user`. */
  fileIds: string[];
  expiresAfterMinutes: number;
  memoryLimit: ContainerMemoryLimit;
}

/** A container expires this long after it was last active unless created with another time. */
export const DEFAULT_CONTAINER_EXPIRY_MINUTES = 20;
export const DEFAULT_CONTAINER_MEMORY_LIMIT: ContainerMemoryLimit = "1g";

/** At most this many files are looked at by one sync: a runaway program cannot make it scan forever. */
const MAX_SYNC_FILES = 10_000;

/** Bytes written to the staging area, not yet in any container. */
export interface StagedFile {
  path: string;
  bytes: number;
}

/** The bytes a file is added from. */
export type FileSource = Uint8Array | AsyncIterable<Uint8Array> | Readable;

/** A file's name as it goes in `/mnt/data/`: no directories or control characters, at most 255 characters. */
export function containerFileName(name: string): string {
  const base = (name.split(/[\\/]/).pop() ?? "").replace(/[\u0000-\u001f\u007f]/g, "").trim().slice(0, 255);
  return base === "" || base === "." || base === ".." ? "file" : base;
}

function containerNotFound(id: string): Error {
  return objectNotFound("Container", id, "container_id", "container_not_found");
}

function fileNotFound(id: string): Error {
  return objectNotFound("Container file", id, "file_id", "file_not_found");
}

/** A file's size and modification time (microseconds), or undefined if it is not a regular file. */
async function fileStat(path: string): Promise<{ bytes: number; mtimeUs: number } | undefined> {
  try {
    const st = await lstat(path, { bigint: true });
    if (!st.isFile()) return undefined;
    return { bytes: Number(st.size), mtimeUs: Number(st.mtimeNs / 1000n) };
  } catch {
    return undefined;
  }
}

/**
 * Regular files under `dir` (symbolic links and anything else skipped, never followed), keyed by
 * their `/mnt/data/…` path; at most `MAX_SYNC_FILES`.
 */
async function scan(dir: string, relative: string, found: Map<string, { bytes: number; mtimeUs: number }>): Promise<void> {
  let entries;
  try {
    entries = await readdir(join(dir, relative), { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    if (found.size >= MAX_SYNC_FILES) return;
    const rel = relative === "" ? entry.name : `${relative}/${entry.name}`;
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) {
      await scan(dir, rel, found);
    } else if (entry.isFile()) {
      const st = await fileStat(join(dir, rel));
      if (st !== undefined) found.set(`${CONTAINER_MOUNT}/${rel}`, st);
    }
  }
}

/**
 * OpenAI's containers, free of HTTP: a working directory per container (mounted as `/mnt/data` by
 * the sandbox that runs code in it) holding the files clients add and code writes, each recorded
 * with an id. A container expires `expiresAfterMinutes` after it was last active; `sweepExpired`
 * then removes its files.
 */
export class ContainerService {
  readonly #store: ContainerStore;
  readonly #files: FileStore;
  readonly #dataDir: string;
  readonly #staging: string;
  readonly #maxBytes: number;

  constructor(deps: { store: ContainerStore; files: FileStore; dataDir: string; maxBytes: number }) {
    this.#store = deps.store;
    this.#files = deps.files;
    this.#dataDir = deps.dataDir;
    this.#maxBytes = deps.maxBytes;
    this.#staging = join(deps.dataDir, "container-staging");
    mkdirSync(this.#staging, { recursive: true });
  }

  /** A container's working directory on disk (bound as `/mnt/data` in the sandbox). */
  directory(id: string): string {
    return this.#store.directory(id);
  }

  /**
   * Makes a container, copying the Files API files named into it (each must be the project's own:
   * else a 404 naming `file_ids`, and nothing is made).
   */
  async create(projectId: string, options: CreateContainerOptions): Promise<ContainerRecord> {
    const sources = [];
    for (const fileId of options.fileIds) {
      const file = await this.#files.get(projectId, fileId);
      if (file === undefined) throw objectNotFound("File", fileId, "file_ids", "file_not_found");
      sources.push(file);
    }
    const now = unixSeconds();
    const container: ContainerRecord = {
      id: `cntr_${randomHex(24)}`,
      projectId,
      name: options.name,
      createdAt: now,
      lastActiveAt: now,
      expiresAfterMinutes: options.expiresAfterMinutes,
      memoryLimit: options.memoryLimit,
      status: "running",
    };
    await mkdir(this.directory(container.id), { recursive: true });
    await this.#store.insert(container);
    try {
      for (const file of sources) await this.#addFromFile(container, file.id, file.filename);
    } catch (error) {
      await this.#store.delete(projectId, container.id);
      throw error;
    }
    return container;
  }

  /** A project's running container, or a 404 naming `container_id` (also for an expired one, or another project's). */
  async get(projectId: string, id: string): Promise<ContainerRecord> {
    const container = await this.#store.get(projectId, id);
    if (container === undefined || containerStatus(container) !== "running") throw containerNotFound(id);
    return container;
  }

  /**
   * A project's container whatever its status (`GET /v1/containers/{id}`); retrieving a running one
   * counts as activity.
   */
  async retrieve(projectId: string, id: string): Promise<ContainerRecord> {
    const container = await this.#store.get(projectId, id);
    if (container === undefined) throw containerNotFound(id);
    return containerStatus(container) === "running" ? this.#touched(container) : container;
  }

  /** Records activity: the container's expiry starts again from now. */
  async touch(id: string): Promise<void> {
    await this.#store.touch(id);
  }

  /** A project's containers (running and expired), optionally those with one name only. */
  list(projectId: string, paging: PageQuery & { name?: string | undefined }): Promise<Page<ContainerRecord>> {
    return this.#store.list(projectId, paging);
  }

  /** Deletes a project's container and its files; a 404 if there is none. */
  async delete(projectId: string, id: string): Promise<void> {
    if (!(await this.#store.delete(projectId, id))) throw containerNotFound(id);
  }

  /**
   * Marks containers past their time expired and removes their files; returns how many. Staged
   * uploads a crashed process left behind go too, after an hour.
   */
  async sweepExpired(now = unixSeconds()): Promise<number> {
    let expired = 0;
    for (const c of await this.#store.due(now)) if (await this.#store.expire(c.id, now)) expired++;
    for (const name of await readdir(this.#staging).catch(() => [])) {
      const st = await fileStat(join(this.#staging, name));
      if (st !== undefined && st.mtimeUs / 1e6 < now - 3600) await rm(join(this.#staging, name), { force: true });
    }
    return expired;
  }

  // Files

  /**
   * Brings the records in line with the directory: regular files that are new, or whose size or
   * modification time changed, are recorded as source `assistant` (a changed file keeps its id);
   * rows of files that are gone are removed. Returns the new and changed records.
   */
  async syncFiles(projectId: string, id: string): Promise<ContainerFileRecord[]> {
    const container = await this.get(projectId, id);
    const found = new Map<string, { bytes: number; mtimeUs: number }>();
    await scan(this.directory(id), "", found);
    const rows = await this.#store.allFiles(id);
    const byPath = new Map(rows.map((r) => [r.path, r]));
    const changed: ContainerFileRecord[] = [];
    for (const [path, st] of found) {
      const row = byPath.get(path);
      if (row === undefined) {
        const record = this.#record(container, path, st, "assistant");
        if (await this.#store.insertFileIfAbsent(record)) changed.push(record);
      } else if (row.bytes !== st.bytes || row.mtimeUs !== st.mtimeUs) {
        const update = { bytes: st.bytes, mtimeUs: st.mtimeUs, source: "assistant" as const };
        await this.#store.updateFile(row.id, update);
        changed.push({ ...row, ...update });
      }
    }
    for (const row of rows) if (!found.has(row.path)) await this.#store.deleteFile(id, row.id);
    return changed;
  }

  /** Streams bytes to the staging area (at most the configured file limit, else a 413 naming `file`). */
  async stage(source: FileSource): Promise<StagedFile> {
    const path = join(this.#staging, randomHex(16));
    const bytes = await streamToFile(source instanceof Uint8Array ? Readable.from([source]) : source, path, this.#maxBytes, () => fileTooLarge(this.#maxBytes));
    return { path, bytes };
  }

  /** Removes staged bytes that were not added. */
  async discardStaged(staged: StagedFile): Promise<void> {
    await rm(staged.path, { force: true });
  }

  /** Moves staged bytes into the container as `/mnt/data/<name>` (replacing a file there), source `user`. */
  async addStaged(projectId: string, id: string, name: string, staged: StagedFile): Promise<ContainerFileRecord> {
    try {
      const container = await this.#touched(await this.get(projectId, id));
      return await this.#place(container, containerFileName(name), staged.path);
    } finally {
      await rm(staged.path, { force: true });
    }
  }

  /** Adds a file (an upload) to the container as `/mnt/data/<name>`, source `user`. */
  async addFile(projectId: string, id: string, name: string, source: FileSource): Promise<ContainerFileRecord> {
    const staged = await this.stage(source);
    return this.addStaged(projectId, id, name, staged);
  }

  /** Copies a Files API file of the project into the container under its filename (404 naming `param` if absent). */
  async addFromFileId(projectId: string, id: string, fileId: string, param = "file_id"): Promise<ContainerFileRecord> {
    const container = await this.get(projectId, id);
    const file = await this.#files.get(projectId, fileId);
    if (file === undefined) throw objectNotFound("File", fileId, param, "file_not_found");
    return this.#addFromFile(await this.#touched(container), file.id, file.filename);
  }

  /** A running container's files; counts as activity. */
  async listFiles(projectId: string, id: string, paging: PageQuery): Promise<Page<ContainerFileRecord>> {
    await this.#touched(await this.get(projectId, id));
    return this.#store.listFiles(id, paging);
  }

  /** Every file recorded for a running container (no paging, no activity). */
  async listAllFiles(projectId: string, id: string): Promise<ContainerFileRecord[]> {
    await this.get(projectId, id);
    return this.#store.allFiles(id);
  }

  /** One of a running container's files, or a 404 naming `file_id`; counts as activity. */
  async getFile(projectId: string, id: string, fileId: string): Promise<ContainerFileRecord> {
    await this.#touched(await this.get(projectId, id));
    const file = await this.#store.getFile(id, fileId);
    if (file === undefined) throw fileNotFound(fileId);
    return file;
  }

  /** Deletes one of a container's files, its bytes too (never anything outside the container). */
  async deleteFile(projectId: string, id: string, fileId: string): Promise<void> {
    const file = await this.getFile(projectId, id, fileId);
    const disk = await this.#insidePath(id, file.path);
    if (!(await this.#store.deleteFile(id, fileId))) throw fileNotFound(fileId);
    if (disk !== undefined) await rm(disk, { force: true });
  }

  /**
   * A container file's record and where its bytes are on disk: a 404 if they are gone, or if the
   * path now leads out of the container (code may replace a directory with a symbolic link).
   */
  async fileContentPath(projectId: string, id: string, fileId: string): Promise<{ file: ContainerFileRecord; path: string }> {
    const file = await this.getFile(projectId, id, fileId);
    const path = await this.#insidePath(id, file.path);
    if (path === undefined || (await fileStat(path)) === undefined) throw fileNotFound(fileId);
    return { file, path };
  }

  /**
   * Opens a container file's bytes for reading, never through a symbolic link and never outside the
   * container's directory (checked on the opened descriptor, so a link swapped in meanwhile does not
   * count); a 404 otherwise. The caller closes the handle.
   */
  async openFile(projectId: string, id: string, fileId: string): Promise<{ file: ContainerFileRecord; handle: FileHandle; size: number }> {
    const { file, path } = await this.fileContentPath(projectId, id, fileId);
    let handle: FileHandle;
    try {
      handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch {
      throw fileNotFound(fileId);
    }
    try {
      const st = await handle.stat();
      if (!st.isFile()) throw fileNotFound(fileId);
      const opened = await readlink(`/proc/self/fd/${handle.fd}`).catch(() => undefined);
      const root = await realpath(this.directory(id));
      if (opened !== undefined && !opened.startsWith(`${root}${sep}`)) throw fileNotFound(fileId);
      return { file, handle, size: st.size };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /**
   * Where a `/mnt/data/…` path is on disk, provided its directory (symbolic links resolved) is still
   * inside the container's; undefined otherwise, or if the directory is gone.
   */
  async #insidePath(id: string, path: string): Promise<string | undefined> {
    const disk = containerDiskPath(this.#dataDir, id, path);
    if (disk === undefined) return undefined;
    try {
      const root = await realpath(this.directory(id));
      const parent = await realpath(dirname(disk));
      return parent === root || parent.startsWith(`${root}${sep}`) ? join(parent, basename(disk)) : undefined;
    } catch {
      return undefined;
    }
  }

  async #touched(container: ContainerRecord): Promise<ContainerRecord> {
    const now = unixSeconds();
    await this.#store.touch(container.id, now);
    return { ...container, lastActiveAt: Math.max(container.lastActiveAt, now) };
  }

  async #addFromFile(container: ContainerRecord, fileId: string, filename: string): Promise<ContainerFileRecord> {
    const staged = join(this.#staging, randomHex(16));
    let bytes: Readable;
    try {
      bytes = await this.#files.read(fileId);
    } catch (error) {
      if (!(error instanceof BlobNotFoundError)) throw error;
      throw objectNotFound("File", fileId, "file_id", "file_not_found");
    }
    // Copied from the blob store into the container's disk: the sandbox sees only local files.
    await streamToFile(bytes, staged, Number.MAX_SAFE_INTEGER, () => new Error("unreachable: no limit"));
    try {
      return await this.#place(container, containerFileName(filename), staged);
    } finally {
      await rm(staged, { force: true });
    }
  }

  /** Renames staged bytes to `/mnt/data/<name>` and records them as source `user`. */
  async #place(container: ContainerRecord, name: string, staged: string): Promise<ContainerFileRecord> {
    const path = `${CONTAINER_MOUNT}/${name}`;
    const disk = containerDiskPath(this.#dataDir, container.id, path);
    if (disk === undefined) throw invalidRequest(`Invalid file name '${name}'.`, "file", "invalid_value");
    await mkdir(dirname(disk), { recursive: true });
    try {
      await rename(staged, disk);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EISDIR" || code === "ENOTEMPTY" || code === "EEXIST" || code === "ENOTDIR") {
        throw invalidRequest(`'${path}' is a directory in this container; a file cannot replace it.`, "file", "invalid_value");
      }
      throw error;
    }
    const st = await fileStat(disk);
    if (st === undefined) throw new Error(`the file just written to ${disk} is missing`);
    return this.#store.putFile(this.#record(container, path, st, "user"));
  }

  #record(container: ContainerRecord, path: string, st: { bytes: number; mtimeUs: number }, source: ContainerFileSource): ContainerFileRecord {
    return { id: `cfile_${randomHex(16)}`, containerId: container.id, projectId: container.projectId, path, bytes: st.bytes, source, createdAt: unixSeconds(), mtimeUs: st.mtimeUs };
  }
}
