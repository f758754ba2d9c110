import { notFound } from "../../../services/access.ts";
import { parseGuardPolicy, renderDryRun, renderProjectGuardrails } from "../../../protocol/openai/guardrails.ts";
import { FieldReader } from "../../../protocol/openai/validate.ts";
import type { Guardrails } from "../../../services/guardrails/guardrails.ts";
import type { Storage } from "../../../storage/storage.ts";
import { sendJson } from "../../respond.ts";
import type { RequestContext, Route } from "../../router.ts";

async function projectId(storage: Storage, ctx: RequestContext): Promise<string> {
  const id = ctx.params.project ?? "";
  if ((await storage.getProject(id)) === undefined) throw notFound(`No project with id '${id}'.`);
  return id;
}

/**
 * Guardrail policies per project (admin key): `GET`, `POST` (replace) and `DELETE`
 * `/v1/organization/projects/{id}/guardrails`, and `POST /v1/organization/guardrails/dry_run`, which
 * shows what a policy (given, or a project's) does to a text without running a model.
 */
export function guardrailRoutes(deps: { storage: Storage; guardrails: Guardrails }): Route[] {
  const { storage, guardrails } = deps;
  const show = async (ctx: RequestContext, id: string): Promise<void> => {
    const { policy, source, updatedAt } = await guardrails.policyOf(id);
    sendJson(ctx.res, 200, renderProjectGuardrails(id, policy, source, updatedAt));
  };
  return [
    {
      method: "GET",
      pattern: "/v1/organization/projects/:project/guardrails",
      handler: async (ctx) => show(ctx, await projectId(storage, ctx)),
    },
    {
      method: "POST",
      pattern: "/v1/organization/projects/:project/guardrails",
      handler: async (ctx) => {
        const id = await projectId(storage, ctx);
        await guardrails.set(id, parseGuardPolicy(await ctx.readJson()));
        await show(ctx, id);
      },
    },
    {
      method: "DELETE",
      pattern: "/v1/organization/projects/:project/guardrails",
      handler: async (ctx) => {
        const id = await projectId(storage, ctx);
        await guardrails.delete(id);
        await show(ctx, id);
      },
    },
    {
      method: "POST",
      pattern: "/v1/organization/guardrails/dry_run",
      handler: async (ctx) => {
        const body = new FieldReader(await ctx.readJson(), "");
        body.rejectUnknown(new Set(["project_id", "policy", "input", "output"]));
        const input = body.string("input", { maxLength: 1_000_000 });
        const output = body.string("output", { maxLength: 1_000_000 });
        if (input === undefined && output === undefined) body.required("input");
        const project = body.string("project_id", { nonEmpty: true });
        let policy;
        if (body.has("policy")) policy = parseGuardPolicy(body.obj.policy, "policy");
        else if (project !== undefined) {
          if ((await storage.getProject(project)) === undefined) throw notFound(`No project with id '${project}'.`);
          policy = (await guardrails.policyOf(project)).policy;
        } else body.required("policy");
        const result = await guardrails.dryRun(policy as NonNullable<typeof policy>, { input, output }, ctx.signal);
        sendJson(ctx.res, 200, renderDryRun(result.input, result.output));
      },
    },
  ];
}
