import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { PullTarget } from "./catalogue.ts";

/** A failed pull, with a message meant for the person who ran it. */
export class PullError extends Error {
  override name = "PullError";
  /** Whether trying again (resuming) may succeed. */
  readonly retryable: boolean;
  constructor(message: string, retryable: boolean) {
    super(message);
    this.retryable = retryable;
  }
}

/** Progress of one download, for a progress bar. */
export interface PullProgress {
  received: number;
  total: number | undefined;
}

export interface PullOptions {
  /** Hugging Face endpoint, e.g. https://huggingface.co (MODELPORT_HF_ENDPOINT). */
  endpoint: string;
  modelsDir: string;
  /** Sent as a Bearer token, for gated repositories. */
  token?: string;
  /** Attempts in this process; each resumes where the last stopped. */
  attempts?: number;
  onProgress?: (progress: PullProgress) => void;
  /** An attempt that receives nothing for this long is abandoned and resumed (default 30 s). */
  idleTimeoutMs?: number;
  /** Called before a retry, with the reason. */
  onRetry?: (attempt: number, reason: string) => void;
  signal?: AbortSignal;
}

export interface PullResult {
  path: string;
  bytes: number;
  sha256: string;
  /** False when the file was already present. */
  downloaded: boolean;
  /** Bytes that came from an earlier partial download. */
  resumedFrom: number;
}

/** What we remember about a partial download, so a later run resumes the same remote version. */
interface PartialMeta {
  url: string;
  etag?: string;
  sha256?: string;
  size?: number;
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(createReadStream(path), hash);
  return hash.digest("hex");
}

function describe(error: unknown): string {
  const e = error as { message?: string; cause?: { code?: string; message?: string } };
  return e.cause?.code ?? e.cause?.message ?? e.message ?? String(error);
}

/** The Hub puts a file's sha256 in `x-linked-etag` (LFS) and its size in `x-linked-size`. */
function hubDigest(headers: Headers): { sha256?: string; size?: number } {
  const etag = (headers.get("x-linked-etag") ?? "").replace(/^W\//, "").replace(/"/g, "");
  const size = Number(headers.get("x-linked-size"));
  return {
    ...(/^[0-9a-f]{64}$/.test(etag) ? { sha256: etag } : {}),
    ...(Number.isInteger(size) && size > 0 ? { size } : {}),
  };
}

/**
 * Downloads a GGUF from a Hugging Face compatible endpoint into the models directory: resumable
 * with HTTP Range (within a run and across runs), size- and sha256-verified where known, and
 * atomically renamed into place so a half-written file is never served.
 */
export async function pullModel(target: PullTarget, options: PullOptions): Promise<PullResult> {
  const fileName = basename(target.file);
  const dest = join(options.modelsDir, fileName);
  const part = `${dest}.part`;
  const metaPath = `${part}.json`;
  const url = `${options.endpoint.replace(/\/+$/, "")}/${target.repo}/resolve/main/${target.file.split("/").map(encodeURIComponent).join("/")}`;
  await mkdir(options.modelsDir, { recursive: true });
  if (existsSync(dest)) {
    const bytes = await fileSize(dest);
    return { path: dest, bytes, sha256: target.sha256 ?? "", downloaded: false, resumedFrom: 0 };
  }

  let meta: PartialMeta = { url };
  try {
    const saved = JSON.parse(await readFile(metaPath, "utf8")) as PartialMeta;
    if (saved.url === url) meta = saved;
  } catch {
    // No usable record of an earlier attempt: any partial file is discarded below.
  }
  if (meta.etag === undefined && (await fileSize(part)) > 0) await rm(part, { force: true });
  const resumedFrom = await fileSize(part);

  const attempts = options.attempts ?? 5;
  for (let attempt = 1; ; attempt++) {
    try {
      await downloadOnce(url, part, metaPath, meta, target, options);
      break;
    } catch (error) {
      const pullError = error instanceof PullError ? error : new PullError(`Download failed: ${describe(error)}`, true);
      if (!pullError.retryable || attempt >= attempts || options.signal?.aborted) throw pullError;
      options.onRetry?.(attempt, pullError.message);
      await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** (attempt - 1), 4000)));
    }
  }

  const bytes = await fileSize(part);
  const expectedSize = target.size ?? meta.size;
  if (expectedSize !== undefined && bytes !== expectedSize) {
    await rm(part, { force: true });
    await rm(metaPath, { force: true });
    throw new PullError(`Size mismatch for ${fileName}: expected ${expectedSize} bytes, got ${bytes}. The partial file was removed.`, false);
  }
  const sha256 = await sha256OfFile(part);
  const expectedSha = target.sha256 ?? meta.sha256;
  if (expectedSha !== undefined && sha256 !== expectedSha) {
    await rm(part, { force: true });
    await rm(metaPath, { force: true });
    throw new PullError(`Checksum mismatch for ${fileName}: expected sha256 ${expectedSha}, got ${sha256}. The partial file was removed.`, false);
  }
  await rename(part, dest);
  await rm(metaPath, { force: true });
  return { path: dest, bytes, sha256, downloaded: true, resumedFrom };
}

async function downloadOnce(
  url: string,
  part: string,
  metaPath: string,
  meta: PartialMeta,
  target: PullTarget,
  options: PullOptions,
): Promise<void> {
  const offset = await fileSize(part);
  const headers: Record<string, string> = { "user-agent": "modelport" };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (offset > 0) {
    headers.range = `bytes=${offset}-`;
    if (meta.etag) headers["if-range"] = meta.etag;
  }
  // A stalled connection would otherwise hang forever: no byte for idleTimeoutMs ends the attempt.
  const idle = new AbortController();
  const idleMs = options.idleTimeoutMs ?? 30_000;
  // unref: a pending idle timer never keeps the process alive after the attempt has ended.
  let idleTimer = setTimeout(() => idle.abort(), idleMs).unref();
  const bump = (): void => {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => idle.abort(), idleMs).unref();
  };
  const init: RequestInit = { headers, redirect: "follow", signal: options.signal ? AbortSignal.any([options.signal, idle.signal]) : idle.signal };
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (error) {
    clearTimeout(idleTimer);
    if (idle.signal.aborted) throw new PullError(`No answer from ${url} for ${idleMs} ms.`, true);
    throw error;
  }
  if (res.status !== 200 && res.status !== 206) clearTimeout(idleTimer);
  if (res.status === 416 && offset > 0 && meta.size === offset) return;
  if (res.status === 404) throw new PullError(`Not found: ${url} (check the repository and file name).`, false);
  if (res.status === 401 || res.status === 403) {
    throw new PullError(`Access denied (${res.status}) for ${url}: the repository may be gated; set HF_TOKEN.`, false);
  }
  if (res.status !== 200 && res.status !== 206) {
    throw new PullError(`Unexpected HTTP ${res.status} from ${url}.`, res.status >= 500 || res.status === 429);
  }
  let start = 0;
  let total: number | undefined;
  if (res.status === 206) {
    const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get("content-range") ?? "");
    if (range === null || Number(range[1]) !== offset) throw new PullError("The server answered a resume with the wrong range.", true);
    start = offset;
    total = range[3] === "*" ? undefined : Number(range[3]);
  } else {
    const length = Number(res.headers.get("content-length"));
    total = Number.isInteger(length) && length > 0 ? length : undefined;
  }
  const digest = hubDigest(res.headers);
  const etag = res.headers.get("etag") ?? undefined;
  Object.assign(meta, {
    url,
    ...(etag ? { etag } : {}),
    ...(digest.sha256 && target.sha256 === undefined ? { sha256: digest.sha256 } : {}),
    size: target.size ?? digest.size ?? total ?? meta.size,
  });
  await writeFile(metaPath, JSON.stringify(meta));
  if (res.body === null) throw new PullError("The server sent no body.", true);

  let received = start;
  const knownTotal = meta.size;
  options.onProgress?.({ received, total: knownTotal });
  // Every byte received is on disk before an error is reported, so the next attempt resumes exactly there.
  const file = createWriteStream(part, { flags: start > 0 ? "a" : "w" });
  let failure: unknown;
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      bump();
      received += chunk.length;
      if (!file.write(chunk)) await new Promise<void>((resolve) => file.once("drain", () => resolve()));
      options.onProgress?.({ received, total: knownTotal });
    }
  } catch (error) {
    failure = idle.signal.aborted ? new PullError(`The download stalled: nothing received for ${idleMs} ms.`, true) : error;
  } finally {
    clearTimeout(idleTimer);
  }
  await new Promise<void>((resolve, reject) => file.end((error?: Error | null) => (error ? reject(error) : resolve())));
  if (failure !== undefined) throw failure;
  if (knownTotal !== undefined && received < knownTotal) {
    throw new PullError(`Connection closed at ${received} of ${knownTotal} bytes.`, true);
  }
}

/** A download under way (or interrupted) in the models directory: its file, bytes so far and expected size. */
export interface PartialDownload {
  file: string;
  bytes: number;
  /** The expected size, when the source reported one. */
  totalBytes: number | undefined;
}

/**
 * The `*.gguf.part` files in `modelsDir` with their progress, read from the partial file's size and
 * its `.part.json` record, so a server can show a `modelport pull` running beside it.
 */
export async function partialDownloads(modelsDir: string): Promise<PartialDownload[]> {
  let names: string[];
  try {
    names = await readdir(modelsDir);
  } catch {
    return [];
  }
  const out: PartialDownload[] = [];
  for (const name of names.filter((n) => n.endsWith(".gguf.part")).sort()) {
    let totalBytes: number | undefined;
    try {
      const meta = JSON.parse(await readFile(join(modelsDir, `${name}.json`), "utf8")) as PartialMeta;
      if (typeof meta.size === "number") totalBytes = meta.size;
    } catch {
      // No record yet (the download has just begun): its size is unknown.
    }
    out.push({ file: name.slice(0, -".part".length), bytes: await fileSize(join(modelsDir, name)), totalBytes });
  }
  return out;
}
