import { mkdirSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { unixSeconds } from "../core/ids.ts";
import { nextSeq, type Page, type PageQuery } from "./object-store.ts";
import { num, str, type Param, type Row, type SqlDb } from "./sql-db.ts";

/** The memory limits a container may have, as OpenAI lists them. */
export const CONTAINER_MEMORY_LIMITS = ["1g", "4g", "16g", "64g"] as const;
export type ContainerMemoryLimit = (typeof CONTAINER_MEMORY_LIMITS)[number];

/** Where a container's files are mounted in its sandbox. */
export const CONTAINER_MOUNT = "/mnt/data";

/** A container as stored. `running` until the expiry sweep marks it `expired` (see `containerStatus`). */
export interface ContainerRecord {
  id: string;
  projectId: string;
  name: string;
  /** Unix seconds. */
  createdAt: number;
  lastActiveAt: number;
  expiresAfterMinutes: number;
  memoryLimit: ContainerMemoryLimit;
  status: "running" | "expired";
}

/** Who put a file in a container: the client (`user`) or code run in it (`assistant`). */
export type ContainerFileSource = "user" | "assistant";

/** A file in a container; its bytes are at `containerDiskPath(dataDir, containerId, path)`. */
export interface ContainerFileRecord {
  id: string;
  containerId: string;
  projectId: string;
  /** The path inside the sandbox, under `/mnt/data/`. */
  path: string;
  bytes: number;
  source: ContainerFileSource;
  /** Unix seconds. */
  createdAt: number;
  /** The file's modification time (microseconds) when last recorded. */
  mtimeUs: number;
}

/** A container's working directory: the sandbox mounts it as `/mnt/data`. */
export function containerDirectory(dataDir: string, id: string): string {
  return join(dataDir, "containers", id);
}

/**
 * Where a container file's bytes are on disk, or undefined for a path outside `/mnt/data/` (or one
 * climbing out of it).
 */
export function containerDiskPath(dataDir: string, containerId: string, path: string): string | undefined {
  const prefix = `${CONTAINER_MOUNT}/`;
  if (!path.startsWith(prefix)) return undefined;
  const parts = path.slice(prefix.length).split("/");
  if (parts.some((p) => p === "" || p === "." || p === "..")) return undefined;
  return join(containerDirectory(dataDir, containerId), ...parts);
}

/** The status a client sees: a running container past its time has `expired`, swept or not. */
export function containerStatus(c: ContainerRecord, now = unixSeconds()): "running" | "expired" {
  if (c.status === "expired") return "expired";
  return c.lastActiveAt + c.expiresAfterMinutes * 60 <= now ? "expired" : "running";
}

function toContainer(r: Row): ContainerRecord {
  return {
    id: str(r.id),
    projectId: str(r.project_id),
    name: str(r.name),
    createdAt: num(r.created_at),
    lastActiveAt: num(r.last_active_at),
    expiresAfterMinutes: num(r.expires_after_minutes),
    memoryLimit: str(r.memory_limit) as ContainerMemoryLimit,
    status: str(r.status) === "expired" ? "expired" : "running",
  };
}

function toFile(r: Row): ContainerFileRecord {
  return {
    id: str(r.id),
    containerId: str(r.container_id),
    projectId: str(r.project_id),
    path: str(r.path),
    bytes: num(r.bytes),
    source: str(r.source) === "assistant" ? "assistant" : "user",
    createdAt: num(r.created_at),
    mtimeUs: num(r.mtime_us),
  };
}

/**
 * Containers and the files in them, over SQL: each container's files live in its directory
 * (`containers/<id>` in the data directory), their metadata here, one row per path.
 */
export class ContainerStore {
  readonly #db: SqlDb;
  readonly #dataDir: string;

  constructor(db: SqlDb, dataDir: string) {
    this.#db = db;
    this.#dataDir = dataDir;
    mkdirSync(join(dataDir, "containers"), { recursive: true });
  }

  /** A container's working directory. */
  directory(id: string): string {
    return containerDirectory(this.#dataDir, id);
  }

  async insert(c: ContainerRecord): Promise<ContainerRecord> {
    await this.#db.run(
      "INSERT INTO containers (id, project_id, name, created_at, last_active_at, expires_after_minutes, memory_limit, status, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      [c.id, c.projectId, c.name, c.createdAt, c.lastActiveAt, c.expiresAfterMinutes, c.memoryLimit, c.status, nextSeq()],
    );
    return c;
  }

  /** A project's container, whatever its status. */
  async get(projectId: string, id: string): Promise<ContainerRecord | undefined> {
    const [row] = await this.#db.all("SELECT * FROM containers WHERE id = ? AND project_id = ?", [id, projectId]);
    return row === undefined ? undefined : toContainer(row);
  }

  /** Moves a running, unexpired container's `last_active_at` to `now`; false if it was not. */
  async touch(id: string, now = unixSeconds()): Promise<boolean> {
    return (await this.#db.run("UPDATE containers SET last_active_at = ? WHERE id = ? AND status = 'running' AND last_active_at + expires_after_minutes * 60 > ?", [now, id, now])) > 0;
  }

  /** A project's containers in creation order, optionally those with one name only. */
  async list(projectId: string, q: PageQuery & { name?: string | undefined }): Promise<Page<ContainerRecord>> {
    const params: Param[] = [projectId];
    let where = "project_id = ?";
    if (q.name !== undefined) {
      where += " AND name = ?";
      params.push(q.name);
    }
    if (q.after !== undefined) {
      const [row] = await this.#db.all("SELECT seq FROM containers WHERE id = ? AND project_id = ?", [q.after, projectId]);
      if (row === undefined) return { data: [], hasMore: false };
      where += q.order === "asc" ? " AND seq > ?" : " AND seq < ?";
      params.push(num(row.seq));
    }
    const rows = await this.#db.all(`SELECT * FROM containers WHERE ${where} ORDER BY seq ${q.order === "asc" ? "ASC" : "DESC"} LIMIT ?`, [...params, q.limit + 1]);
    return { data: rows.slice(0, q.limit).map(toContainer), hasMore: rows.length > q.limit };
  }

  /** Deletes a project's container, its files' rows and its directory; false if there was none. */
  async delete(projectId: string, id: string): Promise<boolean> {
    const deleted = (await this.#db.run("DELETE FROM containers WHERE id = ? AND project_id = ?", [id, projectId])) > 0;
    if (deleted) await this.#removeContents(id);
    return deleted;
  }

  /** Running containers past their time at `now`. */
  async due(now: number): Promise<ContainerRecord[]> {
    const rows = await this.#db.all("SELECT * FROM containers WHERE status = 'running' AND last_active_at + expires_after_minutes * 60 <= ?", [now]);
    return rows.map(toContainer);
  }

  /** Marks a container expired if it is still due at `now`, removing its files; false if it was not. */
  async expire(id: string, now: number): Promise<boolean> {
    const expired = (await this.#db.run("UPDATE containers SET status = 'expired' WHERE id = ? AND status = 'running' AND last_active_at + expires_after_minutes * 60 <= ?", [id, now])) > 0;
    if (expired) await this.#removeContents(id);
    return expired;
  }

  async #removeContents(id: string): Promise<void> {
    await this.#db.run("DELETE FROM container_files WHERE container_id = ?", [id]);
    await rm(this.directory(id), { recursive: true, force: true });
  }

  // Files

  /**
   * Records a file at its path, replacing the row of any file that was there (the bytes on disk
   * were already replaced).
   */
  async putFile(f: ContainerFileRecord): Promise<ContainerFileRecord> {
    await this.#db.transaction(async (tx) => {
      await tx.run("DELETE FROM container_files WHERE container_id = ? AND path = ?", [f.containerId, f.path]);
      await tx.run("INSERT INTO container_files (id, container_id, project_id, path, bytes, source, created_at, mtime_us, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [
        f.id, f.containerId, f.projectId, f.path, f.bytes, f.source, f.createdAt, f.mtimeUs, nextSeq(),
      ]);
    });
    return f;
  }

  /** Records a file found by a sync unless a row for its path appeared meanwhile; false then. */
  async insertFileIfAbsent(f: ContainerFileRecord): Promise<boolean> {
    const inserted = await this.#db.run(
      "INSERT INTO container_files (id, container_id, project_id, path, bytes, source, created_at, mtime_us, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (container_id, path) DO NOTHING",
      [f.id, f.containerId, f.projectId, f.path, f.bytes, f.source, f.createdAt, f.mtimeUs, nextSeq()],
    );
    return inserted > 0;
  }

  /** Updates a changed file's size, modification time and source. */
  async updateFile(id: string, change: { bytes: number; mtimeUs: number; source: ContainerFileSource }): Promise<void> {
    await this.#db.run("UPDATE container_files SET bytes = ?, mtime_us = ?, source = ? WHERE id = ?", [change.bytes, change.mtimeUs, change.source, id]);
  }

  /** Every file row of a container. */
  async allFiles(containerId: string): Promise<ContainerFileRecord[]> {
    return (await this.#db.all("SELECT * FROM container_files WHERE container_id = ? ORDER BY seq", [containerId])).map(toFile);
  }

  /** A container's file. */
  async getFile(containerId: string, id: string): Promise<ContainerFileRecord | undefined> {
    const [row] = await this.#db.all("SELECT * FROM container_files WHERE id = ? AND container_id = ?", [id, containerId]);
    return row === undefined ? undefined : toFile(row);
  }

  /** A container's files in the order they were recorded. */
  async listFiles(containerId: string, q: PageQuery): Promise<Page<ContainerFileRecord>> {
    const params: Param[] = [containerId];
    let where = "container_id = ?";
    if (q.after !== undefined) {
      const [row] = await this.#db.all("SELECT seq FROM container_files WHERE id = ? AND container_id = ?", [q.after, containerId]);
      if (row === undefined) return { data: [], hasMore: false };
      where += q.order === "asc" ? " AND seq > ?" : " AND seq < ?";
      params.push(num(row.seq));
    }
    const rows = await this.#db.all(`SELECT * FROM container_files WHERE ${where} ORDER BY seq ${q.order === "asc" ? "ASC" : "DESC"} LIMIT ?`, [...params, q.limit + 1]);
    return { data: rows.slice(0, q.limit).map(toFile), hasMore: rows.length > q.limit };
  }

  /** Deletes a file's row (not its bytes); false if there was none. */
  async deleteFile(containerId: string, id: string): Promise<boolean> {
    return (await this.#db.run("DELETE FROM container_files WHERE id = ? AND container_id = ?", [id, containerId])) > 0;
  }
}
