import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The admin UI, served by the server at /admin from dist/web. Nothing is inlined as a data: URL or
// an inline script, so the page runs under a strict Content-Security-Policy (script-src 'self').
export default defineConfig({
  root: import.meta.dirname,
  base: "/admin/",
  plugins: [react()],
  logLevel: "warn",
  build: {
    outDir: "../dist/web",
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 1024,
  },
});
