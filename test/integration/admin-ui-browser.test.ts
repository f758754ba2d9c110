import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { raw, startTestServer, waitFor, type TestServer } from "../helpers/server.ts";

// The admin UI in a real browser (Debian's Chromium through playwright-core) against the real
// server: an operator signs in, makes a project and a key, limits and budgets it, chats in the
// playground, finds the request in the log and on the overview, and revokes the key. Screenshots of
// every page go to test-results/admin-ui/ (not committed).

// What the functions run inside the page use (the tests are typed with Node's library, not the DOM's).
declare const document: { querySelector(selector: string): { textContent: string | null } | null; documentElement: { scrollWidth: number } };
declare const window: { innerWidth: number };
declare function requestAnimationFrame(callback: (time: number) => void): number;

const CHROMIUM = "/usr/bin/chromium";
const ADMIN = "sk-admin-browser-ui-test-0123456789";
const FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const SHOTS = fileURLToPath(new URL("../../test-results/admin-ui/", import.meta.url));

describe("admin UI in a browser", { skip: existsSync(CHROMIUM) ? false : "Debian's chromium is not installed (scripts/bootstrap.sh test installs it as root)" }, () => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  /** Console errors and uncaught exceptions of the signed-in page, by the page they happened on. */
  const problems: string[] = [];
  let where = "sign-in";
  let secret = "";
  let projectId = "";

  const shot = async (name: string): Promise<void> => {
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  };
  const go = async (hash: string): Promise<void> => {
    where = hash;
    await page.goto(`${server.url}/admin#/${hash}`);
  };

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    server = await startTestServer({ env: { MODELPORT_ADMIN_KEY: ADMIN, MODELPORT_API_KEYS: "sk-unused-default-key-0123" } });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`${where}: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`${where}: ${e.message}`));
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it("refuses a wrong admin key and signs in with the right one", async () => {
    // A separate page: the refused key's 401 is logged by Chromium as a console error, on purpose.
    const other = await context.newPage();
    await other.goto(`${server.url}/admin`);
    await other.getByLabel("Admin key").fill("sk-admin-wrong");
    await other.getByRole("button", { name: "Sign in" }).click();
    await other.getByRole("alert").waitFor();
    await other.close();

    await go("overview");
    await page.getByLabel("Admin key").fill(ADMIN);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    // The key is kept for this tab only, never in a URL or local storage.
    assert.equal(await page.evaluate(() => sessionStorage.getItem("modelport.adminKey")), ADMIN);
    assert.equal(await page.evaluate(() => JSON.stringify(localStorage).includes("sk-admin")), false);
    assert.ok(!page.url().includes(ADMIN));
    await shot("overview-empty");
  });

  it("creates a project and a key whose secret is shown once", async () => {
    await go("projects");
    await page.getByLabel("Project name").fill("Browser Team");
    await page.getByRole("button", { name: "Create project" }).click();
    await page.getByRole("heading", { name: "Browser Team" }).waitFor();
    projectId = decodeURIComponent(/#\/projects\/([^/]+)/.exec(page.url())?.[1] ?? "");
    assert.match(projectId, /^proj_/);

    await page.getByLabel("Key name").fill("ui-key");
    await page.getByRole("button", { name: "Create key" }).click();
    const shown = page.getByTestId("new-key-secret");
    await shown.waitFor();
    secret = (await shown.textContent())?.trim() ?? "";
    assert.match(secret, /^sk-proj-/);
    await shot("project-new-key");
    // The secret works at once.
    const ok = await raw(server, "/v1/models", { headers: { authorization: `Bearer ${secret}` } });
    assert.equal(ok.status, 200);
    await page.getByRole("button", { name: "Done" }).click();
    await shown.waitFor({ state: "detached" });
    await page.reload();
    await page.getByRole("heading", { name: "Browser Team" }).waitFor();
    await page.getByRole("cell", { name: "ui-key", exact: true }).waitFor();
    assert.equal(await page.getByText(secret).count(), 0, "the secret is not shown again");
  });

  it("sets a rate limit and a budget", async () => {
    await page.getByLabel("Model", { exact: true }).selectOption("stories");
    await page.getByLabel("Requests per minute").fill("120");
    await page.getByLabel("Tokens per minute").fill("50000");
    await page.getByRole("button", { name: "Save rate limit" }).click();
    const admin = { authorization: `Bearer ${ADMIN}` };
    await waitFor(async () => {
      const limits = (await raw(server, `/v1/organization/projects/${projectId}/rate_limits`, { headers: admin })).body as { data: { model: string; max_requests_per_1_minute: number; max_tokens_per_1_minute: number }[] };
      const limit = limits.data.find((l) => l.model === "stories");
      return limit?.max_requests_per_1_minute === 120 && limit.max_tokens_per_1_minute === 50000;
    });
    await page.getByLabel("Monthly budget (USD)").fill("25");
    await page.getByRole("button", { name: "Save project" }).click();
    await waitFor(async () => ((await raw(server, `/v1/organization/projects/${projectId}`, { headers: admin })).body as { monthly_budget_usd: number | null }).monthly_budget_usd === 25);
    await shot("project-detail");
  });

  it("sets guardrails and dry-runs them", async () => {
    const policy = { input: [{ type: "pii", action: "redact", entities: ["email"] }], output: [{ type: "banned", action: "block", words: ["codename"] }] };
    await page.getByLabel("Policy (JSON)").fill(JSON.stringify(policy));
    await page.getByRole("button", { name: "Save guardrails" }).click();
    await page.getByText("This project's own policy").waitFor();
    await page.getByLabel("Sample input").fill("Mail me at ada@example.com");
    await page.getByLabel("Sample output").fill("The codename is secret");
    await page.getByRole("button", { name: "Dry run" }).click();
    const result = page.getByLabel("Dry run result");
    await result.getByText("Mail me at [EMAIL_1]").waitFor();
    await result.getByText(/blocked by banned/).waitFor();
    const shown = (await raw(server, `/v1/organization/projects/${projectId}/guardrails`, { headers: { authorization: `Bearer ${ADMIN}` } })).body as { source: string };
    assert.equal(shown.source, "project");
    await shot("project-guardrails");
  });

  it("streams a chat in the playground, token by token", async () => {
    await go("playground");
    await page.getByLabel("Project key").fill(secret);
    await page.getByLabel("Model", { exact: true }).selectOption("stories");
    await page.getByLabel("Max tokens").fill("60");
    await page.getByLabel("Message").fill("Once upon a time");
    const log = page.getByRole("log", { name: "Conversation" });
    // Watch the answer grow in the page while it streams.
    const lengths = page.evaluate(async () => {
      const seen: number[] = [];
      const el = document.querySelector('[role="log"]');
      const start = performance.now();
      while (performance.now() - start < 20_000) {
        const n = el?.textContent?.length ?? 0;
        if (seen.at(-1) !== n) seen.push(n);
        if (document.querySelector('[aria-label="Last response stats"]')?.textContent?.match(/\d/)) break;
        await new Promise((r) => requestAnimationFrame(r));
      }
      return seen;
    });
    await page.getByRole("button", { name: "Send" }).click();
    const seen = await lengths;
    await page.getByLabel("Last response stats").getByText(/\d/).first().waitFor();
    assert.ok(seen.length >= 4, `the answer arrived in pieces (${seen.join(", ")})`);
    assert.ok(((await log.textContent()) ?? "").length > "Once upon a time".length + 5);
    await shot("playground");
  });

  it("shows the request in the request log and on the overview", async () => {
    await go("requests");
    const row = page.getByRole("row").filter({ hasText: "/v1/chat/completions" }).filter({ hasText: "stories" });
    await waitFor(async () => {
      if ((await row.count()) > 0) return true;
      await page.getByRole("button", { name: "Refresh" }).click();
      await new Promise((r) => setTimeout(r, 300));
      return false;
    }, 15_000);
    await shot("requests");
    await row.first().getByRole("link").first().click();
    await page.getByRole("link", { name: "Back to requests" }).waitFor();
    assert.ok((await page.content()).includes(projectId));
    await shot("request-detail");

    await go("overview");
    await waitFor(async () => Number(((await page.getByTestId("total-requests").textContent()) ?? "0").replace(/\D/g, "")) >= 1, 15_000);
    await shot("overview");
  });

  it("shows the remaining pages, usable at phone width, in both themes", async () => {
    for (const hash of ["usage", "models", "objects"]) {
      await go(hash);
      await page.getByRole("heading", { level: 1 }).first().waitFor();
      await shot(hash);
    }
    await page.setViewportSize({ width: 375, height: 800 });
    await go("overview");
    await page.getByRole("button", { name: "Menu" }).click();
    await page.getByRole("link", { name: "Models" }).click();
    await page.getByRole("heading", { level: 1 }).first().waitFor();
    // Nothing wider than the screen but the tables' own scrolling boxes.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `page overflows by ${overflow}px at 375px`);
    await shot("models-phone");
    await page.getByRole("button", { name: /Switch to (dark|light) theme/ }).click();
    await shot("models-phone-other-theme");
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it("revokes the key, and a request with it then fails", async () => {
    await go(`projects/${projectId}`);
    await page.getByRole("button", { name: "Revoke ui-key" }).click();
    await page.getByRole("button", { name: "Confirm revoke ui-key" }).click();
    await waitFor(async () => (await raw(server, "/v1/models", { headers: { authorization: `Bearer ${secret}` } })).status === 401, 5000);
    await page.getByRole("button", { name: "Revoke ui-key" }).waitFor({ state: "detached" });
    await shot("project-key-revoked");
    assert.deepEqual(problems, [], "no console errors on any page");
  });
});
