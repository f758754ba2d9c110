import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { extname, join } from "node:path";
import { ApiError } from "../../core/errors.ts";
import type { Route } from "../router.ts";

/**
 * The admin UI's Content-Security-Policy: scripts, styles and requests from this origin only, no
 * inline script, no framing, no plugins. The admin key lives in session storage, so an injected
 * script is the one thing that could read it: nothing but the built bundle may run.
 */
export const ADMIN_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".woff2": "font/woff2",
};

/** One file of the built UI, read once at start (the bundle is small and never changes while serving). */
interface Asset {
  body: Buffer;
  type: string;
}

const SECURITY_HEADERS = {
  "content-security-policy": ADMIN_CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "x-frame-options": "DENY",
};

/** Reads the built UI (`index.html` and `assets/*`) from `dir`; undefined when it was not built. */
function loadAssets(dir: string): { index: Asset; assets: Map<string, Asset> } | undefined {
  const indexPath = join(dir, "index.html");
  if (!existsSync(indexPath)) return undefined;
  const assets = new Map<string, Asset>();
  const assetDir = join(dir, "assets");
  if (existsSync(assetDir)) {
    for (const name of readdirSync(assetDir)) {
      const path = join(assetDir, name);
      if (!statSync(path).isFile()) continue;
      assets.set(name, { body: readFileSync(path), type: TYPES[extname(name)] ?? "application/octet-stream" });
    }
  }
  return { index: { body: readFileSync(indexPath), type: TYPES[".html"] as string }, assets };
}

/**
 * `GET /admin` (the single page; its pages are `#/…` routes) and `GET /admin/assets/{file}` (Vite's
 * content-hashed bundle, cached for a year). The files are public: signing in happens in the page,
 * with the admin key sent as a Bearer token to `/v1/organization`. Without a build (`npm run build`
 * makes `dist/web`), `/admin` says how to make one.
 */
export function adminUiRoutes(dir: string): Route[] {
  const built = loadAssets(dir);
  return [
    {
      method: "GET",
      pattern: "/admin",
      handler: async (ctx) => {
        if (built === undefined) {
          throw new ApiError(404, `The admin UI is not built (no ${join(dir, "index.html")}); run \`npm run build\`.`, { type: "invalid_request_error", code: "admin_ui_not_built" });
        }
        // The page itself is revalidated on every load, so a new build's asset names are picked up.
        ctx.res.writeHead(200, { ...SECURITY_HEADERS, "content-type": built.index.type, "cache-control": "no-cache" }).end(built.index.body);
      },
    },
    {
      method: "GET",
      pattern: "/admin/assets/:file",
      handler: async (ctx) => {
        const asset = built?.assets.get(ctx.params.file ?? "");
        if (asset === undefined) throw new ApiError(404, `No admin UI asset '${ctx.params.file}'.`, { type: "invalid_request_error", code: "not_found" });
        ctx.res.writeHead(200, { ...SECURITY_HEADERS, "content-type": asset.type, "cache-control": "public, max-age=31536000, immutable" }).end(asset.body);
      },
    },
  ];
}
