import { num, str, type SqlDb } from "./sql-db.ts";

/** A project's guardrail policy as stored: its JSON document and when it was last set. */
export interface StoredGuardrailPolicy {
  projectId: string;
  /** The policy's JSON text, as validated and normalised by the protocol layer. */
  policy: string;
  updatedAt: number;
}

/** The `guardrail_policies` table: at most one policy per project. */
export class GuardrailStore {
  readonly #db: SqlDb;

  constructor(db: SqlDb) {
    this.#db = db;
  }

  async get(projectId: string): Promise<StoredGuardrailPolicy | undefined> {
    const [row] = await this.#db.all("SELECT project_id, policy, updated_at FROM guardrail_policies WHERE project_id = ?", [projectId]);
    return row === undefined ? undefined : { projectId: str(row.project_id), policy: str(row.policy), updatedAt: num(row.updated_at) };
  }

  /** Sets (or replaces) a project's policy. */
  async put(p: StoredGuardrailPolicy): Promise<void> {
    await this.#db.run(
      "INSERT INTO guardrail_policies (project_id, policy, updated_at) VALUES (?, ?, ?) ON CONFLICT (project_id) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at",
      [p.projectId, p.policy, p.updatedAt],
    );
  }

  /** Removes a project's policy; whether there was one. */
  async delete(projectId: string): Promise<boolean> {
    return (await this.#db.run("DELETE FROM guardrail_policies WHERE project_id = ?", [projectId])) > 0;
  }
}
