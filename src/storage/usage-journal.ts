import { createHash } from "node:crypto";
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { randomId } from "../core/ids.ts";
import type { UsageRecord } from "./storage.ts";

/**
 * One journal file: the records appended to it between two flushes of the meter. It is deleted once
 * it is sealed (no more appends) and every record in it is in the database.
 */
export interface JournalSegment {
  readonly path: string;
  /** Open for appends while it is the current segment; closed once sealed. */
  fd: number | undefined;
  /** Records in it not yet in the database. */
  outstanding: number;
  sealed: boolean;
}

/** A record read back from a dead process's journal, and the segment (now this process's) holding it. */
export interface RecoveredRecord {
  record: UsageRecord;
  segment: JournalSegment;
}

/** Who wrote a journal file: its host, its process id, that process's start time (Linux; "0" elsewhere) and a random token. */
interface Owner {
  /** A short hash of the host name and boot id: pids mean something only on the host (and PID namespace) that wrote them. */
  host: string;
  pid: number;
  start: string;
  token: string;
}

/** `usage-<host>-<pid>-<start>-<token>-<seq>.jsonl` */
const FILE = /^usage-([0-9a-f]+)-(\d+)-(\d+)-([A-Za-z0-9]+)-(\d+)\.jsonl$/;

/**
 * A journal of another host (another container on a shared data volume: its pids are not ours to
 * check) counts as abandoned once it has not been written for this long. A live process's files
 * last about a second (one meter flush) unless its database writes are failing, and adopting one
 * early costs nothing but a duplicate check, as replay skips records already in the database.
 */
const FOREIGN_STALE_MS = 120_000;

function readBootId(): string {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return "";
  }
}

/** This host (and PID namespace: each container has its own host name), as journal file names carry it. */
const HOST = createHash("sha256").update(`${hostname()}|${readBootId()}`).digest("hex").slice(0, 10);

/** Tokens of the journals open in this process: a file with this pid and one of them has a live owner. */
const LIVE_TOKENS = new Set<string>();

/**
 * When a process started, in clock ticks since boot (field 22 of /proc/<pid>/stat), or undefined
 * where there is no /proc or no such process. With the pid it names one process for the whole boot:
 * a pid alone is soon reused, and in a container each restart gets the same small pids.
 */
function startTime(pid: number | "self"): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may hold spaces: count fields after its ")".
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** This process's start time, read once. */
const SELF_START = startTime("self");

/** Whether the process that wrote a journal file (at `path`) may still be running (and appending to it). */
function ownerAlive(owner: Owner, path: string): boolean {
  if (owner.host !== HOST) {
    try {
      return Date.now() - statSync(path).mtimeMs < FOREIGN_STALE_MS;
    } catch {
      return true;
    }
  }
  if (owner.pid === process.pid) return LIVE_TOKENS.has(owner.token);
  // Never pid 0 or below: process.kill would signal a process group.
  if (!Number.isSafeInteger(owner.pid) || owner.pid <= 0) return false;
  if (owner.start !== "0" && SELF_START !== undefined) return startTime(owner.pid) === owner.start;
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (error) {
    // EPERM: a process of another user has that pid; it may be the owner.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Deletes a file that may already be gone. */
function removeFile(path: string): void {
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
}

/** The records of a journal file; a line cut short (a write torn by power loss) is skipped. */
function readRecords(path: string): { records: UsageRecord[]; skipped: number } {
  const records: UsageRecord[] = [];
  let skipped = 0;
  for (const line of readFileSync(path, "utf8").split("\n")) {
    if (line === "") continue;
    try {
      const record = JSON.parse(line) as UsageRecord;
      if (typeof record.id === "string" && typeof record.projectId === "string") records.push(record);
      else skipped++;
    } catch {
      skipped++;
    }
  }
  return { records, skipped };
}

/**
 * An append-only journal of usage records in the data directory, so a record outlives a process
 * killed before its batched database write. Each record is written with one synchronous `write(2)`
 * on an `O_APPEND` descriptor as it is made: once that returns, the line is in the kernel's page
 * cache, which a SIGKILL or crash of the process does not lose (a power cut or kernel crash can:
 * there is no fsync per record). The journal is split into segments, one per database flush; a
 * segment goes once all its records are committed. Each process writes files of its own; at start,
 * a process adopts the files of processes that are gone (renaming them as its own, so only one
 * process adopts each) and hands their records back to be written again, and the caller skips
 * those already in the database (`existingIds`), so a replay never counts a record twice.
 */
export class UsageJournal {
  readonly #dir: string;
  readonly #owner: Owner;
  #seq = 0;
  #current: JournalSegment | undefined;

  /** `owner` stands in for another process's identity (tests: a journal left by a dead process). */
  constructor(dir: string, owner?: { pid: number; start?: string }) {
    this.#dir = dir;
    mkdirSync(dir, { recursive: true });
    this.#owner = owner === undefined ? { host: HOST, pid: process.pid, start: SELF_START ?? "0", token: randomId(12) } : { host: HOST, pid: owner.pid, start: owner.start ?? "0", token: randomId(12) };
    if (owner === undefined) LIVE_TOKENS.add(this.#owner.token);
  }

  #nextPath(): string {
    const { host, pid, start, token } = this.#owner;
    return join(this.#dir, `usage-${host}-${pid}-${start}-${token}-${this.#seq++}.jsonl`);
  }

  /**
   * Takes over the journal files of processes that are gone and returns their records; their
   * segments are this journal's now, deleted as their records are committed. `onSkipped` hears of
   * lines that could not be read.
   */
  recover(onSkipped?: (file: string, lines: number) => void): RecoveredRecord[] {
    const recovered: RecoveredRecord[] = [];
    for (const name of readdirSync(this.#dir).sort()) {
      const match = FILE.exec(name);
      if (match === null) continue;
      const owner = { host: match[1] as string, pid: Number(match[2]), start: match[3] as string, token: match[4] as string };
      if (owner.token === this.#owner.token || ownerAlive(owner, join(this.#dir, name))) continue;
      const path = this.#nextPath();
      try {
        // Atomic: of several processes starting at once, one adopts the file; the others miss it.
        renameSync(join(this.#dir, name), path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw error;
      }
      const { records, skipped } = readRecords(path);
      if (skipped > 0) onSkipped?.(name, skipped);
      const segment: JournalSegment = { path, fd: undefined, outstanding: records.length, sealed: true };
      if (records.length === 0) removeFile(path);
      for (const record of records) recovered.push({ record, segment });
    }
    return recovered;
  }

  /** Writes one record, synchronously, to the current segment (opened on the first record after a seal); returns that segment. */
  append(record: UsageRecord): JournalSegment {
    let segment = this.#current;
    if (segment === undefined) {
      const path = this.#nextPath();
      segment = { path, fd: openSync(path, "a"), outstanding: 0, sealed: false };
      this.#current = segment;
    }
    writeSync(segment.fd as number, `${JSON.stringify(record)}\n`);
    segment.outstanding++;
    return segment;
  }

  /** Ends the current segment: the next record starts a new file. Call it as a batch is taken for the database. */
  seal(): void {
    const segment = this.#current;
    if (segment === undefined) return;
    this.#current = undefined;
    segment.sealed = true;
    if (segment.fd !== undefined) closeSync(segment.fd);
    segment.fd = undefined;
    if (segment.outstanding === 0) removeFile(segment.path);
  }

  /** Notes that one record of `segment` is in the database; a sealed segment with none left is deleted. */
  committed(segment: JournalSegment): void {
    segment.outstanding--;
    if (segment.outstanding === 0 && segment.sealed) removeFile(segment.path);
  }

  /** Seals the current segment and stops counting this process as the journal's live owner. */
  close(): void {
    this.seal();
    LIVE_TOKENS.delete(this.#owner.token);
  }
}
