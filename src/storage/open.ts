import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { PostgresDb, SqliteDb } from "./sql-db.ts";
import { Storage } from "./storage.ts";

/** Opens and migrates the configured database: PostgreSQL when a URL is given, else SQLite in the data directory. */
export async function openStorage(options: { databaseUrl: string | undefined; dataDir: string }): Promise<Storage> {
  let storage: Storage;
  if (options.databaseUrl) {
    storage = new Storage(new PostgresDb(options.databaseUrl));
  } else {
    mkdirSync(options.dataDir, { recursive: true });
    storage = new Storage(new SqliteDb(join(options.dataDir, "modelport.db")));
  }
  try {
    await storage.migrate();
  } catch (error) {
    await storage.close().catch(() => undefined);
    throw error;
  }
  return storage;
}
