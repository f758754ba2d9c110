import { useEffect, useState } from "react";
import { adminKey, api, ApiError, setAdminKey } from "./api.ts";
import { SignIn } from "./components/sign-in.tsx";
import { ModelsPage } from "./pages/models.tsx";
import { ObjectsPage } from "./pages/objects.tsx";
import { OverviewPage } from "./pages/overview.tsx";
import { PlaygroundPage } from "./pages/playground.tsx";
import { ProjectsPage } from "./pages/projects.tsx";
import { RequestsPage } from "./pages/requests.tsx";
import { UsagePage } from "./pages/usage.tsx";
import { PAGES, useRoute } from "./router.ts";
import type { ServerStatus } from "./types.ts";

type Theme = "light" | "dark";

function initialTheme(): Theme {
  const saved = localStorage.getItem("modelport.theme");
  if (saved === "light" || saved === "dark") return saved;
  return window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

/** The admin console: sign-in, then a navigation bar and the page the `#/…` route names. */
export function App() {
  const [signedIn, setSignedIn] = useState(adminKey() !== null);
  const [theme, setTheme] = useState<Theme>(initialTheme);
  const [version, setVersion] = useState<string>("");
  const [menuOpen, setMenuOpen] = useState(false);
  const route = useRoute();

  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    localStorage.setItem("modelport.theme", theme);
  }, [theme]);

  useEffect(() => {
    if (!signedIn) return;
    api<ServerStatus>("/v1/organization/status")
      .then((s) => setVersion(s.version))
      .catch((e: unknown) => {
        // A key that stopped working (revoked, server reset) signs out instead of failing every page.
        if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
          setAdminKey(null);
          setSignedIn(false);
        }
      });
  }, [signedIn]);

  useEffect(() => {
    const title = PAGES.find((p) => p.path === route.page)?.title ?? "";
    document.title = `${title} · Modelport admin`;
    setMenuOpen(false);
  }, [route.page]);

  if (!signedIn) return <SignIn onSignedIn={() => setSignedIn(true)} />;

  const signOut = (): void => {
    setAdminKey(null);
    setSignedIn(false);
  };

  return (
    <div className="layout">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <button type="button" className="menu-button" aria-expanded={menuOpen} aria-controls="nav" onClick={() => setMenuOpen((o) => !o)}>
          Menu
        </button>
        <span className="brand">Modelport</span>
        {version !== "" && <span className="muted small">v{version}</span>}
        <span className="spacer" />
        <button type="button" onClick={() => setTheme(theme === "dark" ? "light" : "dark")} aria-label={`Switch to ${theme === "dark" ? "light" : "dark"} theme`}>
          {theme === "dark" ? "Light" : "Dark"}
        </button>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </header>
      <nav id="nav" className={menuOpen ? "nav open" : "nav"} aria-label="Pages">
        <ul>
          {PAGES.map((p) => (
            <li key={p.path}>
              <a href={`#/${p.path}`} aria-current={route.page === p.path ? "page" : undefined}>
                {p.title}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" tabIndex={-1}>
        {route.page === "overview" && <OverviewPage />}
        {route.page === "projects" && <ProjectsPage rest={route.rest} />}
        {route.page === "usage" && <UsagePage />}
        {route.page === "requests" && <RequestsPage rest={route.rest} />}
        {route.page === "models" && <ModelsPage />}
        {route.page === "playground" && <PlaygroundPage />}
        {route.page === "objects" && <ObjectsPage />}
      </main>
    </div>
  );
}
