import { useEffect, useState } from "react";

/** The pages, by their `#/…` route. Hash routes keep the server to one page (`/admin`). */
export const PAGES = [
  { path: "overview", title: "Overview" },
  { path: "projects", title: "Projects and keys" },
  { path: "usage", title: "Usage and costs" },
  { path: "requests", title: "Requests" },
  { path: "models", title: "Models" },
  { path: "playground", title: "Playground" },
  { path: "objects", title: "Batches, files, stores" },
] as const;

export type PagePath = (typeof PAGES)[number]["path"];

/** The current route: the page and whatever follows it (`#/requests/req_123` → ["requests", "req_123"]). */
export function useRoute(): { page: PagePath; rest: string[] } {
  const read = (): { page: PagePath; rest: string[] } => {
    const parts = window.location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
    const page = PAGES.find((p) => p.path === parts[0])?.path ?? "overview";
    return { page, rest: parts.slice(1) };
  };
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const onHash = (): void => setRoute(read());
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);
  return route;
}

export function navigate(path: string): void {
  window.location.hash = `#/${path}`;
}
